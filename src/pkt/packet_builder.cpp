#include "pkt/packet_builder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdexcept>

namespace xdpd::pkt {
namespace {

void put16(Bytes& b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
void put32(Bytes& b, uint32_t v) {
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}
void set16(Bytes& b, size_t off, uint16_t v) {
    b[off] = uint8_t(v >> 8);
    b[off + 1] = uint8_t(v);
}

std::array<uint8_t, 16> parse_addr(const std::string& s, int family) {
    std::array<uint8_t, 16> a{};
    if (inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), a.data()) != 1)
        throw std::invalid_argument("bad address " + s);
    return a;
}

uint32_t sum16(const uint8_t* d, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(d[i]) << 8 | d[i + 1];
    if (n & 1) s += uint32_t(d[n - 1]) << 8;
    return s;
}

}  // namespace

uint16_t inet_checksum(const uint8_t* data, size_t len, uint32_t initial) {
    uint32_t s = sum16(data, len, initial);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

PacketBuilder& PacketBuilder::eth(Mac s, Mac d) { src_mac_ = s; dst_mac_ = d; return *this; }
PacketBuilder& PacketBuilder::ethertype(uint16_t t) { raw_type_ = t; return *this; }
PacketBuilder& PacketBuilder::vlan(uint16_t id, uint16_t tpid) { vlans_.emplace_back(tpid, id); return *this; }
PacketBuilder& PacketBuilder::ipv4(const std::string& s, const std::string& d) {
    family_ = 4; src_ = parse_addr(s, 4); dst_ = parse_addr(d, 4); return *this;
}
PacketBuilder& PacketBuilder::ipv6(const std::string& s, const std::string& d) {
    family_ = 6; src_ = parse_addr(s, 6); dst_ = parse_addr(d, 6); return *this;
}
PacketBuilder& PacketBuilder::ip_options(Bytes o) {
    while (o.size() % 4) o.push_back(0);  // EOL padding
    ip_opts_ = std::move(o);
    return *this;
}
PacketBuilder& PacketBuilder::fragment(uint16_t off, bool more) { frag_ = {off, more}; return *this; }
PacketBuilder& PacketBuilder::ttl(uint8_t t) { ttl_ = t; return *this; }
PacketBuilder& PacketBuilder::ipv6_ext(uint8_t type, uint8_t units) { ext_.emplace_back(type, units); return *this; }
PacketBuilder& PacketBuilder::tcp(uint16_t s, uint16_t d, uint8_t f, Bytes opts) {
    while (opts.size() % 4) opts.push_back(1);  // NOP padding
    l4_ = L4::tcp; sport_ = s; dport_ = d; flags_ = f; tcp_opts_ = std::move(opts); return *this;
}
PacketBuilder& PacketBuilder::udp(uint16_t s, uint16_t d) { l4_ = L4::udp; sport_ = s; dport_ = d; return *this; }
PacketBuilder& PacketBuilder::icmp(uint8_t t, uint8_t c) { l4_ = L4::icmp; icmp_type_ = t; icmp_code_ = c; return *this; }
PacketBuilder& PacketBuilder::l4_proto(uint8_t p) { l4_ = L4::raw; raw_proto_ = p; return *this; }
PacketBuilder& PacketBuilder::payload(size_t n, uint8_t fill) { payload_ = n; fill_ = fill; return *this; }
PacketBuilder& PacketBuilder::pad_to(size_t n) { pad_to_ = n; return *this; }

uint8_t PacketBuilder::l4_proto_number() const {
    switch (l4_) {
    case L4::tcp: return IPPROTO_TCP;
    case L4::udp: return IPPROTO_UDP;
    case L4::icmp: return uint8_t(family_ == 6 ? int(IPPROTO_ICMPV6) : int(IPPROTO_ICMP));
    case L4::raw: return raw_proto_;
    case L4::none: return IPPROTO_NONE;
    }
    return 0;
}

size_t PacketBuilder::l4_header_len() const {
    switch (l4_) {
    case L4::tcp: return 20 + tcp_opts_.size();
    case L4::udp: return 8;
    case L4::icmp: return 8;
    default: return 0;
    }
}

size_t PacketBuilder::header_len() const { return l4_offset() + l4_header_len(); }

size_t PacketBuilder::l3_offset() const { return 14 + 4 * vlans_.size(); }

size_t PacketBuilder::l4_offset() const {
    size_t off = l3_offset();
    if (family_ == 4) return off + 20 + ip_opts_.size();
    off += 40;
    for (auto [t, u] : ext_) off += t == 44 ? 8 : 8 + 8 * u;
    if (frag_) off += 8;
    return off;
}

Bytes PacketBuilder::build() const {
    Bytes b;
    b.insert(b.end(), dst_mac_.begin(), dst_mac_.end());
    b.insert(b.end(), src_mac_.begin(), src_mac_.end());
    uint16_t l3type = raw_type_ ? *raw_type_ : family_ == 6 ? 0x86dd : 0x0800;
    for (auto [tpid, id] : vlans_) {
        put16(b, tpid);
        put16(b, id);
    }
    put16(b, l3type);
    if (raw_type_ || !family_) {
        b.resize(b.size() + payload_, fill_);
        if (b.size() < pad_to_) b.resize(pad_to_, fill_);
        return b;
    }

    const size_t l3 = b.size();
    const size_t l4hl = l4_header_len();
    size_t pay = payload_;
    const size_t hdrs = l4_offset() + l4hl;
    if (pad_to_ > hdrs + pay) pay = pad_to_ - hdrs;
    const uint8_t l4p = l4_proto_number();

    if (family_ == 4) {
        size_t ihl = 20 + ip_opts_.size();
        b.push_back(uint8_t(0x40 | (ihl / 4)));
        b.push_back(0);
        put16(b, uint16_t(ihl + l4hl + pay));
        put16(b, 0x1234);
        uint16_t fo = 0;
        if (frag_) fo = uint16_t((frag_->first / 8) | (frag_->second ? 0x2000 : 0));
        put16(b, fo);
        b.push_back(ttl_);
        b.push_back(l4p);
        put16(b, 0);
        b.insert(b.end(), src_.begin(), src_.begin() + 4);
        b.insert(b.end(), dst_.begin(), dst_.begin() + 4);
        b.insert(b.end(), ip_opts_.begin(), ip_opts_.end());
        set16(b, l3 + 10, inet_checksum(&b[l3], ihl));
    } else {
        std::vector<uint8_t> chain;
        for (auto [t, u] : ext_) chain.push_back(t);
        if (frag_) chain.push_back(44);
        chain.push_back(l4p);
        size_t ext_len = l4_offset() - l3 - 40;
        b.push_back(0x60);
        b.push_back(0);
        put16(b, 0);
        put16(b, uint16_t(ext_len + l4hl + pay));
        b.push_back(chain[0]);
        b.push_back(ttl_);
        b.insert(b.end(), src_.begin(), src_.end());
        b.insert(b.end(), dst_.begin(), dst_.end());
        size_t ci = 1;
        for (auto [t, u] : ext_) {
            if (t == 44) {  // a fragment header: first fragment, more follow
                b.push_back(chain[ci++]);
                b.push_back(0);
                put16(b, 0x0001);
                put32(b, 0x12345678);
                continue;
            }
            b.push_back(chain[ci++]);
            b.push_back(u);
            // PadN option filling the rest of the header.
            size_t len = 8 + 8 * size_t(u) - 2;
            b.push_back(1);
            b.push_back(uint8_t(len - 2));
            b.resize(b.size() + len - 2, 0);
        }
        if (frag_) {
            b.push_back(chain[ci++]);
            b.push_back(0);
            put16(b, uint16_t((frag_->first & ~7u) | (frag_->second ? 1 : 0)));
            put32(b, 0xabcdef01);
        }
    }

    const size_t l4 = b.size();
    switch (l4_) {
    case L4::tcp:
        put16(b, sport_); put16(b, dport_);
        put32(b, 1000); put32(b, flags_ & kAck ? 2000 : 0);
        b.push_back(uint8_t((l4hl / 4) << 4));
        b.push_back(flags_);
        put16(b, 65535); put16(b, 0); put16(b, 0);
        b.insert(b.end(), tcp_opts_.begin(), tcp_opts_.end());
        break;
    case L4::udp:
        put16(b, sport_); put16(b, dport_); put16(b, uint16_t(8 + pay)); put16(b, 0);
        break;
    case L4::icmp:
        b.push_back(icmp_type_); b.push_back(icmp_code_); put16(b, 0); put32(b, 0x00010001);
        break;
    default:
        break;
    }
    b.resize(b.size() + pay, fill_);

    // L4 checksum (not for non-first fragments, which carry no L4 header).
    bool first = !frag_ || frag_->first == 0;
    if (first && l4_ != L4::none && l4_ != L4::raw) {
        size_t len = b.size() - l4;
        uint32_t s = 0;
        bool pseudo = !(l4_ == L4::icmp && family_ == 4);
        if (pseudo) {
            size_t alen = family_ == 4 ? 4 : 16;
            s = sum16(src_.data(), alen, s);
            s = sum16(dst_.data(), alen, s);
            s += l4p;
            s += uint32_t(len);
        }
        uint16_t c = inet_checksum(&b[l4], len, s);
        if (l4_ == L4::udp && c == 0) c = 0xffff;
        size_t at = l4_ == L4::tcp ? 16 : l4_ == L4::udp ? 6 : 2;
        set16(b, l4 + at, c);
    }
    return b;
}

bool checksums_valid(const Bytes& f) {
    auto u16 = [&](size_t o) { return uint16_t(f[o] << 8 | f[o + 1]); };
    if (f.size() < 14) return false;
    size_t off = 12;
    uint16_t type = u16(off);
    while (type == 0x8100 || type == 0x88a8) {
        off += 4;
        if (off + 2 > f.size()) return false;
        type = u16(off);
    }
    off += 2;
    // The L4 checksum over [l4, l4 + len), with the pseudo header when `pseudo`.
    auto l4_ok = [&](uint8_t proto, size_t l4, size_t len, const uint8_t* src, const uint8_t* dst,
                     size_t alen) {
        if (l4 + len > f.size()) return false;
        if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_ICMP &&
            proto != IPPROTO_ICMPV6)
            return true;  // no checksum this helper knows of
        uint32_t s = 0;
        if (!(proto == IPPROTO_ICMP && alen == 4)) {
            s = sum16(src, alen, s);
            s = sum16(dst, alen, s);
            s += proto;
            s += uint32_t(len);
        }
        return inet_checksum(&f[l4], len, s) == 0;
    };
    if (type == 0x0800) {
        if (off + 20 > f.size()) return false;
        size_t ihl = (f[off] & 0xf) * 4;
        if (ihl < 20 || off + ihl > f.size() || inet_checksum(&f[off], ihl) != 0) return false;
        size_t tot = u16(off + 2);
        if (tot < ihl || off + tot > f.size()) return false;
        if (u16(off + 6) & 0x1fff) return true;  // non-first fragment: no L4 header
        return l4_ok(f[off + 9], off + ihl, tot - ihl, &f[off + 12], &f[off + 16], 4);
    }
    if (type == 0x86dd) {
        if (off + 40 > f.size()) return false;
        size_t end = off + 40 + u16(off + 4);
        if (end > f.size()) return false;
        uint8_t next = f[off + 6];
        size_t l4 = off + 40;
        for (;;) {
            if (next == 0 || next == 43 || next == 60) {
                if (l4 + 8 > end) return false;
                next = f[l4];
                l4 += 8 + 8 * size_t(f[l4 + 1]);
            } else if (next == 44) {
                if (l4 + 8 > end) return false;
                if (u16(l4 + 2) & 0xfff8) return true;  // non-first fragment
                next = f[l4];
                l4 += 8;
            } else {
                break;
            }
        }
        if (l4 > end) return false;
        return l4_ok(next, l4, end - l4, &f[off + 8], &f[off + 24], 16);
    }
    return true;
}

}  // namespace xdpd::pkt
