// The plain, obviously-correct classifier the BPF firewall is checked against:
// rules in order, first allow/deny rule whose every field matches wins.
#pragma once
#include <linux/types.h>

#include <array>
#include <cstdint>
#include <vector>

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

// The full outcome of one packet: the deciding rule (-1: default policy), the
// `count` rules that match and come before it (they count the packet), and
// how many `count` rules match at all, before or after the deciding rule (the
// data plane collects at most XDPD_FW_COUNT_CHAIN of those per packet).
struct Decision {
    int rule = -1;
    std::vector<int> counted;
    int count_matches = 0;
};
Decision classify(const fw::RuleSet& rs, const PacketFields& p);

}  // namespace xdpd::test

#include "support/packet_builder.hpp"

namespace xdpd::test {

// A frame carrying exactly these fields (run it with ingress ifindex
// p.ifindex). vlan != 0 adds an 802.1Q tag (inner_vlan != 0 makes it QinQ:
// 802.1ad outer p.vlan, 802.1Q inner). ICMP type/code come from sport/dport.
// A fragment gets a non-first fragment header with offset frag_offset (a
// multiple of 8) and a TCP/UDP/ICMP-looking payload, which must not be taken
// for ports. proto must suit the family: IPv4 must not use 58 (ICMPv6), IPv6
// must not use 1 (ICMP) nor an extension header number (0, 43, 44, 60).
Bytes frame_of(const PacketFields& p, uint16_t inner_vlan = 0, uint16_t frag_offset = 8,
               size_t payload = 0);
// Zeroes the fields the data plane does not see for this packet (ports and
// flags of non-first fragments and of protocols without them, flags of
// non-TCP), so that the reference sees what the data plane sees.
PacketFields normalized(PacketFields p);
std::string describe(const PacketFields& p);

}  // namespace xdpd::test
