// The frames the benchmark runs programs on: Ethernet + IPv4 + TCP, padded
// with payload to the frame size, checksums filled in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xdpd::bench {

using Frame = std::vector<uint8_t>;

// A TCP/IPv4 frame of exactly frame_len bytes (>= 54; Ethernet FCS not included).
Frame tcp4_frame(const std::string& src, const std::string& dst, uint16_t sport,
                 uint16_t dport, size_t frame_len, uint8_t tcp_flags = 0x10 /* ACK */);

// The packet no benchmark rule matches (see rulesets.hpp: kMiss*).
Frame miss_frame(size_t frame_len);
// The same packet from the first blocklisted host: matched by rule 0.
Frame hit_frame(size_t frame_len);

}  // namespace xdpd::bench
