#include "bench/packets.hpp"

#include <stdexcept>

#include "bench/rulesets.hpp"
#include "pkt/packet_builder.hpp"

namespace xdpd::bench {

Frame tcp4_frame(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                 size_t frame_len, uint8_t tcp_flags) {
    if (frame_len < 54 || frame_len - 14 > 0xffff)
        throw std::invalid_argument("TCP/IPv4 frame length out of range");
    return pkt::PacketBuilder().ipv4(src, dst).tcp(sport, dport, tcp_flags).pad_to(frame_len).build();
}

Frame miss_frame(size_t len) { return tcp4_frame(kMissSrc, kMissDst, kMissSport, kMissDport, len); }
Frame hit_frame(size_t len) {
    return tcp4_frame(kFirstBlockedHost, kMissDst, kMissSport, kMissDport, len);
}

}  // namespace xdpd::bench
