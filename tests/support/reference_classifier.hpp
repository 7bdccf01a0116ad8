// The plain, obviously-correct classifier the BPF firewall is checked against:
// rules in order, first allow/deny rule whose every field matches wins.
#pragma once
#include <array>
#include <cstdint>

#include "fw/rule.hpp"

namespace xdpd::test {

struct PacketFields {
    int family = 4;
    std::array<uint8_t, 16> src{}, dst{};
    uint8_t proto = 0;
    uint16_t sport = 0, dport = 0;  // ICMP: type, code
    uint8_t tcp_flags = 0;
    uint16_t vlan = 0;
    __u32 ifindex = 0;
    bool fragment = false;          // non-first fragment: no L4 fields
};

bool matches(const fw::Match& m, const PacketFields& p);
// Index of the deciding rule, or -1 when the default policy applies.
int first_match(const fw::RuleSet& rs, const PacketFields& p);

}  // namespace xdpd::test
