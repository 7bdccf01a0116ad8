#include "capture/filter.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "stats/names.hpp"

namespace xdpd::capture {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Items of a comma-separated list; an empty item is an error.
std::vector<std::string_view> items(std::string_view list, std::string_view option) {
    std::vector<std::string_view> out;
    const std::string_view whole = list;
    for (;;) {
        const size_t comma = list.find(',');
        const std::string_view item = trim(list.substr(0, comma));
        if (item.empty()) throw FilterError(fmt::format("{}: empty name in the list '{}'", option, whole));
        out.push_back(item);
        if (comma == std::string_view::npos) return out;
        list.remove_prefix(comma + 1);
    }
}

template <size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
    std::string s;
    for (auto n : names) s += (s.empty() ? "" : " ") + std::string(n);
    return s;
}

template <size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
    for (size_t i = 0; i < N; ++i)
        if (names[i] == name) return int(i);
    return -1;
}

unsigned long parse_number(std::string_view text, unsigned long lo, unsigned long hi, std::string_view option,
                           std::string_view what) {
    unsigned long v = 0;
    const auto t = trim(text);
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v < lo || v > hi)
        throw FilterError(fmt::format("{}: '{}' is not {} ({}-{})", option, text, what, lo, hi));
    return v;
}

std::string prefix_str(const __u32* addr, __u8 len, int family) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
    return fmt::format("{}/{}", buf, len);
}

int family_of(const xdpd_capture_filter& f) { return f.family ? f.family : 4; }

}  // namespace

__u32 parse_verdicts(std::string_view list) {
    __u32 bits = 0;
    for (auto v : items(list, "--verdict")) {
        const int i = index_of(stats::kActionNames, v);
        if (i < 0)
            throw FilterError(fmt::format("--verdict: unknown verdict '{}' (valid: {})", v,
                                          joined(stats::kActionNames)));
        bits |= 1u << i;
    }
    return bits;
}

__u64 parse_reasons(std::string_view list) {
    __u64 bits = 0;
    for (auto r : items(list, "--reason")) {
        if (r == "malformed") {
            for (int i = XDPD_R_MALFORMED_FIRST; i <= XDPD_R_MALFORMED_LAST; ++i) bits |= 1ull << i;
            continue;
        }
        const int i = index_of(stats::kReasonNames, r);
        if (i < 0)
            throw FilterError(fmt::format("--reason: unknown reason '{}' (valid: malformed (all trunc_* and bad_*) {})",
                                          r, joined(stats::kReasonNames)));
        bits |= 1ull << i;
    }
    return bits;
}

Prefix parse_prefix(std::string_view text, std::string_view option) {
    const auto t = trim(text);
    const size_t slash = t.find('/');
    const std::string addr(t.substr(0, slash));
    Prefix p;
    if (inet_pton(AF_INET, addr.c_str(), p.addr) == 1)
        p.family = 4;
    else if (inet_pton(AF_INET6, addr.c_str(), p.addr) == 1)
        p.family = 6;
    else
        throw FilterError(fmt::format("{}: '{}' is not an IPv4 or IPv6 address or prefix "
                                      "(e.g. 192.0.2.0/24, 2001:db8::/32, 198.51.100.7)",
                                      option, text));
    const unsigned max = p.family == 4 ? 32 : 128;
    p.len = __u8(slash == std::string_view::npos
                     ? max
                     : parse_number(t.substr(slash + 1), 0, max, fmt::format("{} {}", option, text),
                                    p.family == 4 ? "an IPv4 prefix length" : "an IPv6 prefix length"));
    // Clear the host bits: 10.1.2.3/8 is 10.0.0.0/8.
    for (unsigned w = 0; w < 4; ++w) {
        const unsigned bits = p.len > 32 * w ? p.len - 32 * w : 0;
        const __u32 mask = bits >= 32 ? ~0u : bits == 0 ? 0 : htonl(~0u << (32 - bits));
        p.addr[w] &= mask;
    }
    return p;
}

__u8 parse_proto(std::string_view text) {
    const auto t = trim(text);
    if (t == "tcp") return IPPROTO_TCP;
    if (t == "udp") return IPPROTO_UDP;
    if (t == "icmp") return IPPROTO_ICMP;
    if (t == "icmpv6" || t == "icmp6") return IPPROTO_ICMPV6;
    if (!t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos)
        return __u8(parse_number(t, 1, 255, "--proto", "an IP protocol number"));
    throw FilterError(fmt::format("--proto: unknown protocol '{}' (valid: tcp udp icmp icmpv6, or a number 1-255)",
                                  text));
}

__u16 parse_port(std::string_view text, std::string_view option) {
    return __u16(parse_number(text, 1, 65535, option, "a port"));
}

xdpd_capture_filter parse_filter(const FilterOptions& o) {
    xdpd_capture_filter f{};
    if (!o.verdicts.empty()) f.verdicts = parse_verdicts(o.verdicts);
    if (!o.reasons.empty()) f.reasons = parse_reasons(o.reasons);
    f.ifindex = o.ifindex;
    f.rule = o.rule;
    if (!o.host.empty() && !o.src.empty())
        throw FilterError("--host and --src cannot be combined (--host matches the source or the destination; "
                          "use --src with --dst for both ends)");
    auto family = [&](const Prefix& p, std::string_view option) {
        if (f.family && f.family != p.family)
            throw FilterError(fmt::format("{}: an IPv{} prefix, but another address option is IPv{}: a packet "
                                          "has one IP version, so this would match nothing",
                                          option, p.family, f.family));
        f.family = __u8(p.family);
    };
    if (!o.host.empty() || !o.src.empty()) {
        const bool host = !o.host.empty();
        const auto p = parse_prefix(host ? o.host : o.src, host ? "--host" : "--src");
        family(p, host ? "--host" : "--src");
        std::memcpy(f.src, p.addr, sizeof f.src);
        f.src_len = p.len;
        f.flags |= host ? XDPD_CAP_F_HOST : XDPD_CAP_F_SRC;
    }
    if (!o.dst.empty()) {
        const auto p = parse_prefix(o.dst, "--dst");
        family(p, "--dst");
        std::memcpy(f.dst, p.addr, sizeof f.dst);
        f.dst_len = p.len;
        f.flags |= XDPD_CAP_F_DST;
    }
    if (!o.proto.empty()) {
        f.proto = parse_proto(o.proto);
        if (f.proto == IPPROTO_ICMP && f.family == 6)
            throw FilterError("--proto icmp is IPv4's; with an IPv6 address, use --proto icmpv6");
        if (f.proto == IPPROTO_ICMPV6 && f.family == 4)
            throw FilterError("--proto icmpv6 is IPv6's; with an IPv4 address, use --proto icmp");
    }
    if (!o.port.empty()) f.port = parse_port(o.port, "--port");
    if (!o.sport.empty()) f.sport = parse_port(o.sport, "--sport");
    if (!o.dport.empty()) f.dport = parse_port(o.dport, "--dport");
    return f;
}

std::string describe(const xdpd_capture_filter& f) {
    std::string s;
    auto add = [&](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
    auto list = [](auto bits, const auto& names) {
        std::string out;
        for (size_t i = 0; i < names.size(); ++i)
            if (bits & (decltype(bits)(1) << i)) out += (out.empty() ? "" : ",") + std::string(names[i]);
        return out;
    };
    if (f.verdicts) add("verdict=" + list(f.verdicts, stats::kActionNames));
    if (f.reasons) add("reason=" + list(f.reasons, stats::kReasonNames));
    if (f.rule) add(fmt::format("rule-slot={}", f.rule - 1));
    if (f.ifindex) add(fmt::format("ifindex={}", f.ifindex));
    if (f.flags & XDPD_CAP_F_HOST) add("host=" + prefix_str(f.src, f.src_len, family_of(f)));
    if (f.flags & XDPD_CAP_F_SRC) add("src=" + prefix_str(f.src, f.src_len, family_of(f)));
    if (f.flags & XDPD_CAP_F_DST) add("dst=" + prefix_str(f.dst, f.dst_len, family_of(f)));
    if (f.family && !(f.flags & (XDPD_CAP_F_HOST | XDPD_CAP_F_SRC | XDPD_CAP_F_DST)))
        add(fmt::format("ipv{}", f.family));
    if (f.proto) {
        switch (f.proto) {
        case IPPROTO_TCP: add("proto=tcp"); break;
        case IPPROTO_UDP: add("proto=udp"); break;
        case IPPROTO_ICMP: add("proto=icmp"); break;
        case IPPROTO_ICMPV6: add("proto=icmpv6"); break;
        default: add(fmt::format("proto={}", f.proto));
        }
    }
    if (f.port) add(fmt::format("port={}", f.port));
    if (f.sport) add(fmt::format("sport={}", f.sport));
    if (f.dport) add(fmt::format("dport={}", f.dport));
    return s.empty() ? "all packets" : s;
}

}  // namespace xdpd::capture
