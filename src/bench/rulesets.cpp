#include "bench/rulesets.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>

namespace xdpd::bench {
namespace {

// Families, in rule order. Each comment gives the tuple mask it compiles to.
enum Family : size_t {
    kDenyHost,      // family, src/32
    kDenySshHost,   // family, proto, src/32, dport/16, frag
    kDenyNet,       // family, src/24
    kAllowService,  // family, proto, dst/32, dport/16, frag
    kCountNet,      // family, proto, dst/24
    kDenyUdpBlock,  // proto, dport/12 (an aligned block of 16 ports), frag
    kDenyHost6,     // family, src/128
    kDenyNet6,      // family, src/64
    kFamilies
};

const std::vector<ShapeFamily> kShapes = {
    {"deny src /32 (blocklisted hosts)", 40},
    {"deny tcp src /32 dport 22 (ssh brute-forcers)", 10},
    {"deny src /24 (blocklisted networks)", 20},
    {"allow tcp dst /32 dport P (published services)", 10},
    {"count tcp dst /24 (per-subnet accounting)", 5},
    {"deny udp dport 16-port block", 5},
    {"deny src /128 (IPv6 hosts)", 5},
    {"deny src /64 (IPv6 networks)", 5},
};

uint32_t ipv4(const char* text) {
    in_addr a{};
    if (inet_pton(AF_INET, text, &a) != 1) throw std::logic_error(std::string("bad IPv4 ") + text);
    return ntohl(a.s_addr);
}

fw::Cidr cidr4(uint32_t host_order, int prefix) {
    fw::Cidr c;
    c.family = 4;
    c.prefix = prefix;
    uint32_t n = htonl(host_order);
    std::memcpy(c.addr.data(), &n, 4);
    return c;
}

fw::Cidr cidr6(uint16_t w2, uint16_t w3, uint64_t low, int prefix) {
    // 2001:db8:w2:w3:<low 64 bits>
    fw::Cidr c;
    c.family = 6;
    c.prefix = prefix;
    uint16_t words[4] = {0x2001, 0x0db8, w2, w3};
    for (int i = 0; i < 4; ++i) {
        c.addr[2 * i] = uint8_t(words[i] >> 8);
        c.addr[2 * i + 1] = uint8_t(words[i]);
    }
    for (int i = 0; i < 8; ++i) c.addr[8 + i] = uint8_t(low >> (56 - 8 * i));
    return c;
}

std::string dotted(uint32_t host_order) {
    return fmt::format("{}.{}.{}.{}", host_order >> 24, (host_order >> 16) & 0xff,
                       (host_order >> 8) & 0xff, host_order & 0xff);
}

fw::Rule make_rule(fw::Action a, fw::Match m, std::string id) {
    fw::Rule r;
    r.action = a;
    r.match = std::move(m);
    r.id = std::move(id);
    r.origin = "bench:" + r.id;
    return r;
}

// Address plan (none of it contains the miss packet's 198.51.100.7 or 203.0.113.10):
//   blocklisted hosts   100.64.0.1 + i        (100.64.0.0/11)
//   ssh brute-forcers   100.96.0.1 + i        (100.96.0.0/11)
//   blocklisted nets    172.16.0.0/12, /24 i  (4096 of them)
//   services            10.0.0.1 + i
//   counted subnets     10.128.0.0/9, /24 i   (32768 of them)
//   udp blocks          dport [16 i, 16 i + 15], i < 4096
//   IPv6                2001:db8::/32
constexpr uint32_t kHostBase = 0x64400001;  // 100.64.0.1
constexpr uint32_t kSshBase = 0x64600001;   // 100.96.0.1
constexpr uint32_t kNetBase = 0xac100000;   // 172.16.0.0
constexpr uint32_t kSvcBase = 0x0a000001;   // 10.0.0.1
constexpr uint32_t kCountBase = 0x0a800000; // 10.128.0.0
constexpr uint16_t kServicePorts[] = {80, 443, 8443, 25, 53, 993};
constexpr uint16_t kXdpFilterPortList[] = {23, 445, 3389};

void check_capacity(size_t i, size_t cap, const char* what) {
    if (i >= cap)
        throw std::invalid_argument(
            fmt::format("benchmark rule set: more than {} {} requested", cap, what));
}

}  // namespace

const std::vector<ShapeFamily>& shape_families() { return kShapes; }

std::string blocked_host(size_t i) { return dotted(kHostBase + uint32_t(i)); }

std::vector<size_t> family_sizes(size_t n) {
    std::vector<size_t> sizes(kFamilies, 0);
    if (n < kFamilies) {
        for (size_t i = 0; i < n; ++i) sizes[i] = 1;
        return sizes;
    }
    // One rule per family, then the rest by weight (largest remainder).
    size_t rest = n - kFamilies, given = 0;
    std::vector<std::pair<unsigned, size_t>> rem;
    for (size_t f = 0; f < kFamilies; ++f) {
        size_t share = rest * kShapes[f].weight / 100;
        sizes[f] = 1 + share;
        given += share;
        rem.emplace_back(unsigned(rest * kShapes[f].weight % 100), f);
    }
    std::stable_sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
    for (size_t k = 0; given < rest; ++k, ++given) ++sizes[rem[k % rem.size()].second];
    return sizes;
}

fw::RuleSet make_ruleset(size_t n, const RuleSetOptions& opts) {
    fw::RuleSet rs;
    rs.default_action = opts.default_action;
    rs.rules.reserve(n);
    auto sizes = family_sizes(n);
    for (size_t f = 0; f < kFamilies; ++f) {
        for (size_t i = 0; i < sizes[f]; ++i) {
            fw::Match m;
            switch (Family(f)) {
            case kDenyHost:
                check_capacity(i, 1u << 21, "blocklisted hosts");
                m.src = cidr4(kHostBase + uint32_t(i), 32);
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("host-{}", i)));
                break;
            case kDenySshHost:
                check_capacity(i, 1u << 21, "ssh hosts");
                m.proto = IPPROTO_TCP;
                m.src = cidr4(kSshBase + uint32_t(i), 32);
                m.dport = fw::PortRange{22, 22};
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("ssh-{}", i)));
                break;
            case kDenyNet:
                check_capacity(i, 4096, "blocklisted /24 networks");
                m.src = cidr4(kNetBase + (uint32_t(i) << 8), 24);
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("net-{}", i)));
                break;
            case kAllowService: {
                check_capacity(i, 1u << 20, "services");
                m.proto = IPPROTO_TCP;
                m.dst = cidr4(kSvcBase + uint32_t(i), 32);
                uint16_t p = kServicePorts[i % std::size(kServicePorts)];
                m.dport = fw::PortRange{p, p};
                rs.rules.push_back(make_rule(fw::Action::allow, m, fmt::format("svc-{}", i)));
                break;
            }
            case kCountNet:
                check_capacity(i, 32768, "counted /24 networks");
                m.proto = IPPROTO_TCP;
                m.dst = cidr4(kCountBase + (uint32_t(i) << 8), 24);
                rs.rules.push_back(make_rule(fw::Action::count, m, fmt::format("count-{}", i)));
                break;
            case kDenyUdpBlock:
                check_capacity(i, 4096, "udp port blocks");
                m.proto = IPPROTO_UDP;
                m.dport = fw::PortRange{uint16_t(16 * i), uint16_t(16 * i + 15)};
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("udp-{}", i)));
                break;
            case kDenyHost6:
                m.src = cidr6(0xffff, 0xffff, i + 1, 128);
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("host6-{}", i)));
                break;
            case kDenyNet6:
                check_capacity(i, 1u << 31, "IPv6 /64 networks");
                m.src = cidr6(uint16_t(i >> 16), uint16_t(i), 0, 64);
                rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("net6-{}", i)));
                break;
            case kFamilies:
                break;
            }
        }
    }
    return rs;
}

XdpFilterRuleSet make_xdp_filter_ruleset(size_t n) {
    XdpFilterRuleSet xf;
    size_t ports = std::min(kXdpFilterPorts, n / 2);
    for (size_t i = 0; i < ports; ++i) xf.ports.push_back(kXdpFilterPortList[i]);
    for (size_t i = 0; i < n - ports; ++i) {
        check_capacity(i, 10000, "xdp-filter addresses (its filter_ipv4 map holds 10,000)");
        xf.src_ipv4.push_back(blocked_host(i));
    }
    return xf;
}

fw::RuleSet to_xdpd(const XdpFilterRuleSet& xf) {
    fw::RuleSet rs;
    rs.default_action = fw::Action::allow;
    for (size_t i = 0; i < xf.src_ipv4.size(); ++i) {
        fw::Match m;
        m.src = cidr4(ipv4(xf.src_ipv4[i].c_str()), 32);
        rs.rules.push_back(make_rule(fw::Action::deny, m, fmt::format("xf-ip-{}", i)));
    }
    for (uint16_t p : xf.ports)
        for (uint8_t proto : {uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP)}) {
            fw::Match m;
            m.proto = proto;
            m.dport = fw::PortRange{p, p};
            rs.rules.push_back(make_rule(
                fw::Action::deny, m,
                fmt::format("xf-{}-{}", proto == IPPROTO_TCP ? "tcp" : "udp", p)));
        }
    return rs;
}

}  // namespace xdpd::bench
