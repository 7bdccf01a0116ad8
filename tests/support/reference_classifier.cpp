#include "support/reference_classifier.hpp"

#include <netinet/in.h>

namespace xdpd::test {

bool matches(const fw::Match& m, const PacketFields& p) {
    if (auto f = m.implied_family(); f && *f != p.family) return false;
    if (m.src && !m.src->contains(p.src.data())) return false;
    if (m.dst && !m.dst->contains(p.dst.data())) return false;
    if (m.proto && *m.proto != p.proto) return false;
    if (m.vlan && *m.vlan != p.vlan) return false;
    if (m.ifindex && *m.ifindex != p.ifindex) return false;
    if (m.has_l4() && p.fragment) return false;
    if (m.sport && !m.sport->contains(p.sport)) return false;
    if (m.dport && !m.dport->contains(p.dport)) return false;
    if (m.icmp_type && *m.icmp_type != p.sport) return false;
    if (m.icmp_code && *m.icmp_code != p.dport) return false;
    if (m.tcp_flags && (p.tcp_flags & m.tcp_flags->mask) != m.tcp_flags->value) return false;
    return true;
}

int first_match(const fw::RuleSet& rs, const PacketFields& p) {
    for (size_t i = 0; i < rs.rules.size(); ++i)
        if (rs.rules[i].action != fw::Action::count && matches(rs.rules[i].match, p)) return int(i);
    return -1;
}

}  // namespace xdpd::test

namespace xdpd::test {

Decision classify(const fw::RuleSet& rs, const PacketFields& p) {
    Decision d;
    for (size_t i = 0; i < rs.rules.size(); ++i) {
        const fw::Rule& r = rs.rules[i];
        if (!matches(r.match, p)) continue;
        if (r.action == fw::Action::count) {
            ++d.count_matches;
            if (d.rule < 0) d.counted.push_back(int(i));
        } else if (d.rule < 0) {
            d.rule = int(i);
        }
    }
    return d;
}

}  // namespace xdpd::test

#include <arpa/inet.h>
#include <fmt/format.h>

#include <stdexcept>

namespace xdpd::test {
namespace {
std::string addr_str(const std::array<uint8_t, 16>& a, int family) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}
bool has_ports(uint8_t proto) { return proto == IPPROTO_TCP || proto == IPPROTO_UDP; }
bool is_icmp(const PacketFields& p) {
    return (p.family == 4 && p.proto == IPPROTO_ICMP) || (p.family == 6 && p.proto == IPPROTO_ICMPV6);
}
}  // namespace

PacketFields normalized(PacketFields p) {
    if (p.family == 4) std::fill(p.src.begin() + 4, p.src.end(), 0), std::fill(p.dst.begin() + 4, p.dst.end(), 0);
    if (p.fragment || !(has_ports(p.proto) || is_icmp(p))) p.sport = p.dport = 0;
    if (is_icmp(p)) p.sport &= 0xff, p.dport &= 0xff;
    if (p.fragment || p.proto != IPPROTO_TCP) p.tcp_flags = 0;
    p.vlan &= 0x0fff;
    return p;
}

Bytes frame_of(const PacketFields& in, uint16_t inner_vlan, uint16_t frag_offset, size_t payload) {
    const PacketFields p = normalized(in);
    if ((p.family == 4 && p.proto == IPPROTO_ICMPV6) ||
        (p.family == 6 && (p.proto == IPPROTO_ICMP || p.proto == 0 || p.proto == 43 ||
                           p.proto == 44 || p.proto == 60)))
        throw std::invalid_argument(fmt::format("frame_of: protocol {} in IPv{}", p.proto, p.family));
    PacketBuilder pb;
    if (inner_vlan) {
        pb.vlan(in.vlan, 0x88a8).vlan(inner_vlan);
    } else if (in.vlan) {
        pb.vlan(in.vlan);
    }
    if (p.family == 4)
        pb.ipv4(addr_str(p.src, 4), addr_str(p.dst, 4));
    else
        pb.ipv6(addr_str(p.src, 6), addr_str(p.dst, 6));
    if (p.fragment) pb.fragment(frag_offset ? frag_offset : 8, false);
    // For fragments, the L4-looking bytes are payload; put plausible ports and
    // flags there (from the raw input) so a parser that read them would match.
    const PacketFields& l4 = p.fragment ? in : p;
    if (p.proto == IPPROTO_TCP)
        pb.tcp(l4.sport, l4.dport, l4.tcp_flags);
    else if (p.proto == IPPROTO_UDP)
        pb.udp(l4.sport, l4.dport);
    else if (is_icmp(p))
        pb.icmp(uint8_t(l4.sport), uint8_t(l4.dport));
    else
        pb.l4_proto(p.proto);
    pb.payload(payload);
    return pb.build();
}

std::string describe(const PacketFields& p) {
    std::string s = fmt::format("IPv{} {} -> {} proto {}", p.family, addr_str(p.src, p.family),
                                addr_str(p.dst, p.family), p.proto);
    if (p.fragment) s += " non-first-fragment";
    s += fmt::format(" sport {} dport {} flags {:#04x} vlan {} ifindex {}", p.sport, p.dport,
                     p.tcp_flags, p.vlan, p.ifindex);
    return s;
}

}  // namespace xdpd::test
