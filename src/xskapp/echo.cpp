#include "xskapp/echo.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace xdpd::xskapp {
namespace {

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

// One's complement sum of len bytes (big-endian words), not folded.
uint32_t sum16(const uint8_t* p, size_t len, uint32_t acc = 0) {
    for (; len > 1; p += 2, len -= 2) acc += get16(p);
    if (len) acc += uint32_t(p[0]) << 8;
    return acc;
}
uint16_t fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return uint16_t(~acc);
}

// Recomputes the UDP checksum; the pseudo-header from addrs (src then dst, alen bytes each).
void udp_checksum(uint8_t* udp, uint16_t ulen, const uint8_t* addrs, size_t alen, bool v4) {
    put16(udp + 6, 0);
    uint32_t acc = sum16(addrs, 2 * alen);
    acc += 17 + ulen;
    acc = sum16(udp, ulen, acc);
    uint16_t c = fold(acc);
    if (c == 0) c = 0xffff;  // 0 means "no checksum" (IPv4) / is invalid (IPv6)
    put16(udp + 6, c);
    (void)v4;
}

void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
    std::swap_ranges(a, a + n, b);
}

}  // namespace

void swap_macs(uint8_t* frame) { swap_bytes(frame, frame + 6, 6); }

Verdict udp_echo_in_place(uint8_t* f, uint32_t len, uint16_t port) {
    size_t l3 = 14;
    if (len < l3) return Verdict::not_for_me;
    uint16_t type = get16(f + 12);
    if (type == 0x8100 || type == 0x88a8) {
        if (len < 18) return Verdict::not_for_me;
        type = get16(f + 16);
        l3 = 18;
    }
    uint8_t* ip = f + l3;
    if (type == 0x0800) {
        if (len < l3 + 20 || (ip[0] >> 4) != 4) return Verdict::not_for_me;
        const size_t ihl = size_t(ip[0] & 0x0f) * 4;
        const uint16_t tot = get16(ip + 2);
        if (ihl < 20 || ip[9] != 17 || (get16(ip + 6) & 0x3fff) != 0) return Verdict::not_for_me;  // not UDP, fragment
        if (tot < ihl + 8 || l3 + tot > len) return Verdict::not_for_me;
        uint8_t* udp = ip + ihl;
        const uint16_t ulen = get16(udp + 4);
        if (get16(udp + 2) != port || ulen < 8 || ihl + ulen > tot) return Verdict::not_for_me;
        swap_macs(f);
        swap_bytes(ip + 12, ip + 16, 4);
        swap_bytes(udp, udp + 2, 2);
        ip[8] = 64;
        put16(ip + 10, 0);
        put16(ip + 10, fold(sum16(ip, ihl)));
        if (get16(udp + 6) != 0) udp_checksum(udp, ulen, ip + 12, 4, true);
        return Verdict::tx;
    }
    if (type == 0x86dd) {
        if (len < l3 + 40 + 8 || (ip[0] >> 4) != 6) return Verdict::not_for_me;
        if (ip[6] != 17) return Verdict::not_for_me;  // extension headers: not answered
        uint8_t* udp = ip + 40;
        const uint16_t plen = get16(ip + 4);
        const uint16_t ulen = get16(udp + 4);
        if (l3 + 40 + plen > len || ulen < 8 || ulen > plen) return Verdict::not_for_me;
        if (get16(udp + 2) != port) return Verdict::not_for_me;
        swap_macs(f);
        swap_bytes(ip + 8, ip + 24, 16);
        swap_bytes(udp, udp + 2, 2);
        ip[7] = 64;
        udp_checksum(udp, ulen, ip + 8, 16, false);
        return Verdict::tx;
    }
    return Verdict::not_for_me;
}

}  // namespace xdpd::xskapp
