#include "bench/packets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

#include "bench/rulesets.hpp"

namespace xdpd::bench {
namespace {

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) acc += uint32_t(p[n - 1]) << 8;
    return acc;
}

uint16_t fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return uint16_t(~acc);
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

}  // namespace

Frame tcp4_frame(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                 size_t frame_len, uint8_t tcp_flags) {
    constexpr size_t kEth = 14, kIp = 20, kTcp = 20;
    if (frame_len < kEth + kIp + kTcp || frame_len - kEth > 0xffff)
        throw std::invalid_argument("TCP/IPv4 frame length out of range");
    Frame f(frame_len, 0);
    uint8_t* e = f.data();
    const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::copy(dmac, dmac + 6, e);
    std::copy(smac, smac + 6, e + 6);
    put16(e + 12, 0x0800);

    uint8_t* ip = e + kEth;
    ip[0] = 0x45;
    put16(ip + 2, uint16_t(frame_len - kEth));
    put16(ip + 4, 0x1234);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    if (inet_pton(AF_INET, src.c_str(), ip + 12) != 1 || inet_pton(AF_INET, dst.c_str(), ip + 16) != 1)
        throw std::invalid_argument("bad IPv4 address " + src + " or " + dst);
    put16(ip + 10, fold(sum16(ip, kIp)));

    uint8_t* th = ip + kIp;
    put16(th, sport);
    put16(th + 2, dport);
    put16(th + 4, 0x0001);  // seq
    th[12] = 5 << 4;
    th[13] = tcp_flags;
    put16(th + 14, 65535);
    for (size_t i = kEth + kIp + kTcp; i < frame_len; ++i) f[i] = uint8_t(0xab);

    size_t l4len = frame_len - kEth - kIp;
    uint32_t pseudo = sum16(ip + 12, 8) + IPPROTO_TCP + uint32_t(l4len);
    put16(th + 16, fold(sum16(th, l4len, pseudo)));
    return f;
}

Frame miss_frame(size_t len) { return tcp4_frame(kMissSrc, kMissDst, kMissSport, kMissDport, len); }
Frame hit_frame(size_t len) {
    return tcp4_frame(kFirstBlockedHost, kMissDst, kMissSport, kMissDport, len);
}

}  // namespace xdpd::bench
