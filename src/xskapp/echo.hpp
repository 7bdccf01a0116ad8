// The echo service's packet transform, in place: a UDP datagram (IPv4 or
// IPv6, after an optional 802.1Q tag) to `port` becomes its answer -- MACs,
// addresses and ports swapped, TTL / hop limit 64, IPv4 header and UDP
// checksums recomputed (an IPv4 UDP checksum of 0 stays 0). Anything else
// (not UDP, another port, fragments, truncated) is not_for_me.
#pragma once
#include <cstdint>

#include "xskapp/handler.hpp"

namespace xdpd::xskapp {

Verdict udp_echo_in_place(uint8_t* frame, uint32_t len, uint16_t port);

// Swaps destination and source Ethernet addresses (l2fwd).
void swap_macs(uint8_t* frame);

}  // namespace xdpd::xskapp
