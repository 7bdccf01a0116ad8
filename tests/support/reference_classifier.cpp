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
