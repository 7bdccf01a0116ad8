#include "fw/rule.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "xdpd/abi.h"

namespace xdpd::fw {

const char* to_string(Action a) {
    switch (a) {
    case Action::allow: return "allow";
    case Action::deny: return "deny";
    case Action::count: return "count";
    case Action::steer: return "steer";
    }
    return "?";
}

std::optional<Cidr> Cidr::parse(const std::string& text, std::string* why) {
    auto fail = [&](std::string msg) -> std::optional<Cidr> {
        if (why) *why = std::move(msg);
        return std::nullopt;
    };
    Cidr c;
    std::string addr = text;
    int prefix = -1;
    if (auto slash = text.find('/'); slash != std::string::npos) {
        addr = text.substr(0, slash);
        std::string p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
            return fail("prefix length '" + p + "' is not a number");
        prefix = std::stoi(p);
    }
    if (inet_pton(AF_INET, addr.c_str(), c.addr.data()) == 1) {
        c.family = 4;
        if (prefix > 32) return fail("IPv4 prefix length " + std::to_string(prefix) + " is over 32");
        c.prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, addr.c_str(), c.addr.data()) == 1) {
        c.family = 6;
        if (prefix > 128) return fail("IPv6 prefix length " + std::to_string(prefix) + " is over 128");
        c.prefix = prefix < 0 ? 128 : prefix;
    } else {
        return fail("'" + addr + "' is not an IPv4 or IPv6 address");
    }
    int bytes = c.family == 4 ? 4 : 16;
    for (int i = 0; i < bytes; ++i) {
        int keep = std::clamp(c.prefix - i * 8, 0, 8);
        uint8_t mask = keep ? uint8_t(0xff << (8 - keep)) : 0;
        if (c.addr[i] & ~mask)
            return fail(fmt::format("'{}' has host bits set beyond /{} (did you mean {}?)", text,
                                    c.prefix, [&] {
                                        Cidr n = c;
                                        for (int j = 0; j < bytes; ++j) {
                                            int k = std::clamp(c.prefix - j * 8, 0, 8);
                                            n.addr[j] &= k ? uint8_t(0xff << (8 - k)) : 0;
                                        }
                                        return n.str();
                                    }()));
    }
    return c;
}

std::string Cidr::str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
    return fmt::format("{}/{}", buf, prefix);
}

bool Cidr::contains(const uint8_t* a) const {
    for (int i = 0; i < prefix / 8; ++i)
        if (a[i] != addr[i]) return false;
    if (int rem = prefix % 8) {
        uint8_t mask = uint8_t(0xff << (8 - rem));
        if ((a[prefix / 8] & mask) != addr[prefix / 8]) return false;
    }
    return true;
}

namespace {
constexpr std::pair<const char*, uint8_t> kTcpFlagNames[] = {
    {"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08},
    {"ack", 0x10}, {"urg", 0x20}, {"ece", 0x40}, {"cwr", 0x80}};
}

std::optional<TcpFlags> TcpFlags::parse(const std::string& text, std::string* why) {
    TcpFlags f;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = text.find_first_of(",| ", i);
        std::string tok = text.substr(i, j == std::string::npos ? std::string::npos : j - i);
        i = j == std::string::npos ? text.size() : j + 1;
        if (tok.empty()) continue;
        bool neg = tok[0] == '!';
        std::string name = neg ? tok.substr(1) : tok;
        for (auto& ch : name) ch = char(std::tolower(ch));
        uint8_t bit = 0;
        for (auto [n, b] : kTcpFlagNames)
            if (name == n) bit = b;
        if (!bit) {
            if (why) *why = "unknown TCP flag '" + name + "' (known: fin syn rst psh ack urg ece cwr)";
            return std::nullopt;
        }
        if (f.mask & bit) {
            if (why) *why = "TCP flag '" + name + "' given twice";
            return std::nullopt;
        }
        f.mask |= bit;
        if (!neg) f.value |= bit;
    }
    if (!f.mask) {
        if (why) *why = "empty TCP flag list";
        return std::nullopt;
    }
    return f;
}

std::string TcpFlags::str() const {
    std::string out;
    for (auto [n, b] : kTcpFlagNames) {
        if (!(mask & b)) continue;
        if (!out.empty()) out += ',';
        if (!(value & b)) out += '!';
        out += n;
    }
    return out;
}

std::optional<int> Match::implied_family() const {
    if (family) return family;
    if (src) return src->family;
    if (dst) return dst->family;
    if (proto == IPPROTO_ICMP) return 4;
    if (proto == IPPROTO_ICMPV6) return 6;
    return std::nullopt;
}

std::string Rule::describe() const {
    std::string s = to_string(action);
    const Match& m = match;
    if (m.family) s += fmt::format(" ipv{}", *m.family);
    if (m.proto) {
        switch (*m.proto) {
        case IPPROTO_TCP: s += " tcp"; break;
        case IPPROTO_UDP: s += " udp"; break;
        case IPPROTO_ICMP: s += " icmp"; break;
        case IPPROTO_ICMPV6: s += " icmpv6"; break;
        default: s += fmt::format(" proto {}", *m.proto);
        }
    }
    if (m.src) s += " src " + m.src->str();
    if (m.dst) s += " dst " + m.dst->str();
    auto range = [](const PortRange& r) {
        return r.lo == r.hi ? std::to_string(r.lo) : fmt::format("{}-{}", r.lo, r.hi);
    };
    if (m.sport) s += " sport " + range(*m.sport);
    if (m.dport) s += " dport " + range(*m.dport);
    if (m.tcp_flags) s += " flags " + m.tcp_flags->str();
    if (m.icmp_type) s += fmt::format(" type {}", *m.icmp_type);
    if (m.icmp_code) s += fmt::format(" code {}", *m.icmp_code);
    if (m.vlan) s += fmt::format(" vlan {}", *m.vlan);
    if (m.iface) s += " iif " + *m.iface;
    else if (m.ifindex) s += fmt::format(" ifindex {}", *m.ifindex);
    if (!limit.empty()) s += " limit " + limit;
    if (action == Action::steer) s += " " + steer.describe();
    return s;
}

__u32 Steer::encode() const {
    if (to == To::xsk) return XDPD_STEER_XSK;
    return cpu ? XDPD_STEER_PIN | *cpu : XDPD_STEER_SPREAD;
}

std::string Steer::describe() const {
    if (to == To::xsk) return "to xsk";
    return cpu ? fmt::format("to cpu {}", *cpu) : "to cpu";
}

}  // namespace xdpd::fw
