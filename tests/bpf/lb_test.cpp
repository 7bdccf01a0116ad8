// The L4 load balancer stage in the kernel (bpf/lb.h): packet in -> exact
// packet out, verdict, reason and LB counters. Runs inside a network namespace
// with real devices, routes and neighbours (tests/support/lb_fixture.hpp), so
// the stage's bpf_fib_lookup answers as it would on a host. Every expected
// packet is built from scratch with the fields the stage must produce, and every
// output's checksums are recomputed here in full (never incrementally).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lb/maglev.hpp"
#include "support/lb_fixture.hpp"

namespace xdpd::test {
namespace {

using namespace lbnet;

constexpr const char* kVip4 = "10.99.0.1";
constexpr const char* kVip6 = "fd99::1";
constexpr uint16_t kVipPort = 80, kBePort = 8080, kClientPort = 40000;
constexpr __u64 kSec = 1'000'000'000ull;

const char* vip_addr(int family) { return family == 4 ? kVip4 : kVip6; }
const char* proto_name(uint8_t p) { return p == IPPROTO_TCP ? "TCP" : "UDP"; }

uint16_t get16(const Bytes& b, size_t o) { return uint16_t(b[o] << 8 | b[o + 1]); }
void put16(Bytes& b, size_t o, uint16_t v) {
    b[o] = uint8_t(v >> 8);
    b[o + 1] = uint8_t(v);
}

// ---- independent checksums -------------------------------------------------------

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) s += uint32_t(p[n - 1]) << 8;
    return s;
}

// True when data whose one's complement sum (checksum field included) is s verifies.
bool sums_to_zero(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}

uint16_t checksum(const uint8_t* p, size_t n, uint32_t s = 0) {
    s = sum16(p, n, s);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

// Every checksum of an Ethernet frame, recomputed in full: the IPv4 header,
// TCP, UDP, ICMP, ICMPv6 (with their pseudo-headers), and the IPv4 header an
// ICMP error quotes. UDP over IPv4 may carry 0 (no checksum); over IPv6 it may not.
::testing::AssertionResult checksums_ok(const Bytes& f) {
    if (f.size() < 14) return ::testing::AssertionFailure() << "no Ethernet header";
    const uint16_t type = get16(f, 12);
    const size_t l3 = 14;
    size_t l4, len;
    uint8_t proto;
    uint32_t pseudo;
    if (type == 0x0800) {
        if (f.size() < l3 + 20) return ::testing::AssertionFailure() << "IPv4 header cut short";
        const size_t ihl = (f[l3] & 0xf) * 4u, tot = get16(f, l3 + 2);
        if (l3 + tot > f.size() || tot < ihl) return ::testing::AssertionFailure() << "IPv4 total length " << tot;
        if (!sums_to_zero(sum16(&f[l3], ihl))) return ::testing::AssertionFailure() << "IPv4 header checksum";
        if (get16(f, l3 + 6) & 0x1fff) return ::testing::AssertionSuccess();  // no L4 header
        l4 = l3 + ihl;
        len = tot - ihl;
        proto = f[l3 + 9];
        pseudo = sum16(&f[l3 + 12], 8) + proto + uint32_t(len);
    } else if (type == 0x86dd) {
        if (f.size() < l3 + 40) return ::testing::AssertionFailure() << "IPv6 header cut short";
        len = get16(f, l3 + 4);
        if (l3 + 40 + len > f.size()) return ::testing::AssertionFailure() << "IPv6 payload length " << len;
        l4 = l3 + 40;
        proto = f[l3 + 6];
        pseudo = sum16(&f[l3 + 8], 32) + proto + uint32_t(len);
    } else {
        return ::testing::AssertionSuccess();
    }
    switch (proto) {
    case IPPROTO_TCP:
        if (!sums_to_zero(sum16(&f[l4], len, pseudo))) return ::testing::AssertionFailure() << "TCP checksum";
        break;
    case IPPROTO_UDP:
        if (get16(f, l4 + 6) == 0) {
            if (type == 0x86dd) return ::testing::AssertionFailure() << "UDP over IPv6 with checksum 0";
            break;  // none
        }
        if (!sums_to_zero(sum16(&f[l4], len, pseudo))) return ::testing::AssertionFailure() << "UDP checksum";
        break;
    case IPPROTO_ICMP:
        if (!sums_to_zero(sum16(&f[l4], len))) return ::testing::AssertionFailure() << "ICMP checksum";
        if (f[l4] == 3 && len >= 8 + 20) {
            const size_t q = l4 + 8, qihl = (f[q] & 0xf) * 4u;
            if (len < 8 + qihl || !sums_to_zero(sum16(&f[q], qihl)))
                return ::testing::AssertionFailure() << "quoted IPv4 header checksum";
        }
        break;
    case IPPROTO_ICMPV6:
        if (!sums_to_zero(sum16(&f[l4], len, pseudo))) return ::testing::AssertionFailure() << "ICMPv6 checksum";
        break;
    default:
        break;
    }
    return ::testing::AssertionSuccess();
}

std::string hex(const Bytes& b, size_t from, size_t to) {
    std::string s;
    for (size_t i = from; i < to && i < b.size(); ++i) s += fmt::format("{:02x}{}", b[i], (i + 1) % 2 ? "" : " ");
    return s;
}

::testing::AssertionResult same_bytes(const Bytes& got, const Bytes& want) {
    if (got == want) return ::testing::AssertionSuccess();
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const size_t from = i & ~size_t(15), to = from + 32;
    return ::testing::AssertionFailure() << "packets differ from byte " << i << " (got " << got.size()
                                         << " bytes, want " << want.size() << ")\n  got  @" << from << ": "
                                         << hex(got, from, to) << "\n  want @" << from << ": " << hex(want, from, to);
}

// ---- packets -------------------------------------------------------------------

// A TCP or UDP frame, as sent and as expected back: tests derive the expected
// frame from the one they send by changing exactly the fields the stage must.
struct Seg {
    int family = 4;
    uint8_t proto = IPPROTO_TCP;
    Mac src_mac = kClient.mac, dst_mac = kInDev.mac;
    std::string src = kClient.v4, dst = kVip4;
    uint16_t sport = kClientPort, dport = kVipPort;
    uint8_t ttl = 64;
    uint8_t flags = kAck;
    size_t payload = 64;
    bool udp_no_checksum = false;  // IPv4 UDP sent without checksum (0)

    Bytes build() const {
        PacketBuilder b;
        b.eth(src_mac, dst_mac);
        if (family == 4)
            b.ipv4(src, dst);
        else
            b.ipv6(src, dst);
        b.ttl(ttl);
        if (proto == IPPROTO_TCP)
            b.tcp(sport, dport, flags);
        else
            b.udp(sport, dport);
        b.payload(payload, 0x5a);
        Bytes f = b.build();
        if (udp_no_checksum) put16(f, b.l4_offset() + 6, 0);
        return f;
    }
    Seg macs(const Mac& s, const Mac& d) const {
        Seg c = *this;
        c.src_mac = s;
        c.dst_mac = d;
        return c;
    }
    Seg to(const std::string& addr, uint16_t port) const {
        Seg c = *this;
        c.dst = addr;
        c.dport = port;
        return c;
    }
    Seg from(const std::string& addr, uint16_t port) const {
        Seg c = *this;
        c.src = addr;
        c.sport = port;
        return c;
    }
    Seg hop() const {
        Seg c = *this;
        c.ttl--;
        return c;
    }
    Seg with_flags(uint8_t f) const {
        Seg c = *this;
        c.flags = f;
        return c;
    }
    Seg with_sport(uint16_t p) const {
        Seg c = *this;
        c.sport = p;
        return c;
    }
    xdpd_lb_flow_key key() const { return LbMaps::flow_key(proto, src, sport, dst, dport); }
};

// A client's packet to the VIP, as it arrives on lbin.
Seg to_vip(int family, uint8_t proto, uint16_t dport = kVipPort) {
    Seg s;
    s.family = family;
    s.proto = proto;
    s.src = kClient.addr(family);
    s.dst = vip_addr(family);
    s.dport = dport;
    return s;
}

// A NAT backend's reply to the client, as it arrives from the backend.
Seg from_backend(const LbHost& be, const LbHost& dev, int family, uint8_t proto) {
    Seg s;
    s.family = family;
    s.proto = proto;
    s.src_mac = be.mac;
    s.dst_mac = dev.mac;
    s.src = be.addr(family);
    s.sport = kBePort;
    s.dst = kClient.addr(family);
    s.dport = kClientPort;
    return s;
}

// The IP packet (no Ethernet header) an ICMP error quotes.
Bytes ip_packet(const Seg& s) {
    Bytes f = s.build();
    return Bytes(f.begin() + 14, f.end());
}

// ICMP "fragmentation needed" (3/4) or ICMPv6 "packet too big" quoting q,
// built byte by byte.
Bytes icmp_too_big(const Mac& src_mac, const Mac& dst_mac, int family, const std::string& src, const std::string& dst,
                   uint8_t ttl, const Bytes& q, uint16_t mtu) {
    Bytes f(dst_mac.begin(), dst_mac.end());
    f.insert(f.end(), src_mac.begin(), src_mac.end());
    f.push_back(family == 4 ? 0x08 : 0x86);
    f.push_back(family == 4 ? 0x00 : 0xdd);
    const size_t l3 = f.size(), icmp_len = 8 + q.size();
    LbAddr s = LbAddr::parse(src), d = LbAddr::parse(dst);
    if (family == 4) {
        Bytes ip = {0x45, 0, uint8_t((20 + icmp_len) >> 8), uint8_t(20 + icmp_len), 0x43, 0x21, 0, 0, ttl,
                    IPPROTO_ICMP, 0, 0};
        ip.insert(ip.end(), reinterpret_cast<uint8_t*>(s.w), reinterpret_cast<uint8_t*>(s.w) + 4);
        ip.insert(ip.end(), reinterpret_cast<uint8_t*>(d.w), reinterpret_cast<uint8_t*>(d.w) + 4);
        put16(ip, 10, checksum(ip.data(), ip.size()));
        f.insert(f.end(), ip.begin(), ip.end());
    } else {
        Bytes ip = {0x60, 0, 0, 0, uint8_t(icmp_len >> 8), uint8_t(icmp_len), IPPROTO_ICMPV6, ttl};
        ip.insert(ip.end(), reinterpret_cast<uint8_t*>(s.w), reinterpret_cast<uint8_t*>(s.w) + 16);
        ip.insert(ip.end(), reinterpret_cast<uint8_t*>(d.w), reinterpret_cast<uint8_t*>(d.w) + 16);
        f.insert(f.end(), ip.begin(), ip.end());
    }
    const size_t l4 = f.size();
    if (family == 4)
        f.insert(f.end(), {3, 4, 0, 0, 0, 0, uint8_t(mtu >> 8), uint8_t(mtu)});
    else
        f.insert(f.end(), {2, 0, 0, 0, 0, 0, uint8_t(mtu >> 8), uint8_t(mtu)});
    f.insert(f.end(), q.begin(), q.end());
    uint32_t pseudo = family == 4 ? 0 : sum16(&f[l3 + 8], 32) + IPPROTO_ICMPV6 + uint32_t(icmp_len);
    put16(f, l4 + 2, checksum(&f[l4], icmp_len, pseudo));
    return f;
}

// An echo request or reply (PacketBuilder's: id 1, sequence 1).
Bytes echo(const Mac& src_mac, const Mac& dst_mac, int family, const std::string& src, const std::string& dst,
           uint8_t ttl, bool reply) {
    PacketBuilder b;
    b.eth(src_mac, dst_mac);
    if (family == 4)
        b.ipv4(src, dst);
    else
        b.ipv6(src, dst);
    b.ttl(ttl);
    b.icmp(family == 4 ? (reply ? 0 : 8) : (reply ? 129 : 128));
    b.payload(56, 0x42);
    return b.build();
}

const char* action_name(__u32 a) {
    static const char* names[] = {"ABORTED", "DROP", "PASS", "TX", "REDIRECT"};
    return a < 5 ? names[a] : "?";
}

// ---- the fixture ---------------------------------------------------------------

class Lb : public LbFixture {
protected:
    // A service with one backend in all of its ring (slot), NAT entry included.
    void service(int family, uint8_t proto, __u32 vip, __u32 slot, const LbHost& be, __u32 flags = 0,
                 uint16_t vport = kVipPort, uint16_t bport = kBePort) {
        lb_->add_vip(vip_addr(family), proto, vport, vip, flags);
        backend(slot, be, family, vip, bport);
        lb_->fill_ring(vip, slot);
        if (!(flags & XDPD_LB_VIP_F_DSR)) lb_->add_nat(be.addr(family), bport, proto, vip_addr(family), vport, vip, slot);
    }
    void backend(__u32 slot, const LbHost& be, int family, __u32 vip, uint16_t bport = kBePort, __u32 gen = 1) {
        lb_->set_backend(slot, be.addr(family), bport, vip, gen);
    }

    // One packet: verdict, reason, exact output, checksums.
    void expect(const Bytes& in, __u32 ifindex, __u32 action, xdpd_reason reason, const Bytes& want) {
        LbSent s = send(in, ifindex);
        EXPECT_EQ(s.action, action) << action_name(s.action);
        EXPECT_EQ(s.reason, int(reason)) << reason_name(s.reason);
        EXPECT_TRUE(same_bytes(s.packet, want));
        EXPECT_TRUE(checksums_ok(s.packet));
    }
    void expect_drop(const Bytes& in, __u32 ifindex, xdpd_reason reason) {
        LbSent s = send(in, ifindex);
        EXPECT_EQ(s.action, XDPD_ACT_DROP) << action_name(s.action);
        EXPECT_EQ(s.reason, int(reason)) << reason_name(s.reason);
    }
    // Not the load balancer's: passed unchanged, with the reason it would have anyway.
    void expect_untouched(const Bytes& in, __u32 ifindex, xdpd_reason reason = XDPD_R_NO_FIREWALL) {
        expect(in, ifindex, XDPD_ACT_PASS, reason, in);
    }
    // Forwarded to a backend: the slot that got the packet, from the rewritten destination.
    LbSent forward(const Seg& s) {
        LbSent r = send(s.build(), in());
        EXPECT_TRUE(r.action == XDPD_ACT_TX || r.action == XDPD_ACT_REDIRECT) << action_name(r.action);
        EXPECT_EQ(r.reason, XDPD_R_LB_FORWARD) << reason_name(r.reason);
        return r;
    }
    // Which of be1 / be2 (by their MACs) a forwarded packet went to: 1, 2 or 0.
    int went_to(const Seg& s) {
        LbSent r = forward(s);
        if (r.packet.size() < 6) return 0;
        Mac d;
        std::copy_n(r.packet.begin(), 6, d.begin());
        return d == kBe1.mac ? 1 : d == kBe2.mac ? 2 : 0;
    }
};

// ---- 1. NAT forward ---------------------------------------------------------------

TEST_F(Lb, NatForwardsToTheBackendBehindTheOtherDevice) {
    __u32 vip = 0;
    for (int family : {4, 6})
        for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            SCOPED_TRACE(fmt::format("IPv{} {}", family, proto_name(proto)));
            service(family, proto, vip, 10 + vip, kBe1);
            const Seg in = to_vip(family, proto);
            const Seg want = in.to(kBe1.addr(family), kBePort).hop().macs(kOutDev.mac, kBe1.mac);
            expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD, want.build());
            auto vs = lb_->vip_stats(vip);
            EXPECT_EQ(vs.fwd.packets, 1u);
            EXPECT_EQ(vs.fwd.bytes, in.build().size());
            EXPECT_EQ(vs.table_miss, 1u);
            EXPECT_EQ(vs.new_flows, 1u);
            auto bs = lb_->backend_stats(10 + vip);
            EXPECT_EQ(bs.fwd.packets, 1u);
            EXPECT_EQ(bs.new_flows, 1u);
            auto f = lb_->flow(in.key());
            ASSERT_TRUE(f);
            EXPECT_EQ(f->backend, 10 + vip);
            EXPECT_EQ(f->gen, 1u);
            ++vip;
        }
}

TEST_F(Lb, NatForwardsWithXdpTxToABackendBehindTheIngressDevice) {
    __u32 vip = 0;
    for (int family : {4, 6})
        for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            SCOPED_TRACE(fmt::format("IPv{} {}", family, proto_name(proto)));
            service(family, proto, vip, 10 + vip, kBeIn);
            const Seg in = to_vip(family, proto);
            const Seg want = in.to(kBeIn.addr(family), kBePort).hop().macs(kInDev.mac, kBeIn.mac);
            expect(in.build(), this->in(), XDPD_ACT_TX, XDPD_R_LB_FORWARD, want.build());
            ++vip;
        }
}

// XDP_REDIRECT needs the egress device in xdpd_lb_devmap (the daemon puts
// every device it serves there); without it nothing is sent, and nothing is
// counted as sent.
TEST_F(Lb, EgressDeviceNotInTheDevmapIsNoRoute) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 1;
        service(family, IPPROTO_TCP, vip, 1 + vip, kBe1);
        const Seg flow = to_vip(family, IPPROTO_TCP);
        lb_->remove_egress(out());
        expect_drop(flow.build(), in(), XDPD_R_LB_NO_ROUTE);
        // An ICMP error about the flow, to the same backend.
        Seg sent = flow.from(vip_addr(family), kVipPort).to(kClient.addr(family), kClientPort);
        expect_drop(icmp_too_big(kClient.mac, kInDev.mac, family, kClient.addr(family), vip_addr(family), 64,
                                 ip_packet(sent), 1400),
                    in(), XDPD_R_LB_NO_ROUTE);
        lb_->add_egress(out());
        lb_->remove_egress(in());
        expect_drop(from_backend(kBe1, kOutDev, family, IPPROTO_TCP).build(), out(), XDPD_R_LB_NO_ROUTE);
        lb_->add_egress(in());
        auto vs = lb_->vip_stats(vip);
        EXPECT_EQ(vs.no_route, 3u);
        EXPECT_EQ(vs.fwd.packets + vs.reply.packets + vs.icmp_error, 0u) << "nothing was sent";
        auto bs = lb_->backend_stats(1 + vip);
        EXPECT_EQ(bs.fwd.packets + bs.reply.packets + bs.new_flows, 0u);
        // With the device back, the flow's next packet goes out.
        expect(flow.build(), in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
               flow.to(kBe1.addr(family), kBePort).hop().macs(kOutDev.mac, kBe1.mac).build());
    }
}

// ---- 2. NAT replies ---------------------------------------------------------------

TEST_F(Lb, NatRepliesComeFromTheVip) {
    __u32 vip = 0;
    for (int family : {4, 6})
        for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            SCOPED_TRACE(fmt::format("IPv{} {}", family, proto_name(proto)));
            service(family, proto, vip, 10 + vip, kBe1);
            const Seg in = from_backend(kBe1, kOutDev, family, proto);
            const Seg want = in.from(vip_addr(family), kVipPort).hop().macs(kInDev.mac, kClient.mac);
            expect(in.build(), out(), XDPD_ACT_REDIRECT, XDPD_R_LB_REPLY, want.build());
            auto vs = lb_->vip_stats(vip);
            EXPECT_EQ(vs.reply.packets, 1u);
            EXPECT_EQ(vs.reply.bytes, in.build().size());
            EXPECT_EQ(vs.fwd.packets + vs.table_miss + vs.table_hit, 0u);
            EXPECT_EQ(lb_->backend_stats(10 + vip).reply.packets, 1u);
            EXPECT_EQ(lb_->flow_count(), 0u) << "replies keep no state";
            ++vip;
        }
}

TEST_F(Lb, NatRepliesFromABackendBehindTheIngressDeviceGoOutWithXdpTx) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        service(family, IPPROTO_TCP, family == 4 ? 0 : 1, family == 4 ? 1 : 2, kBeIn);
        const Seg in = from_backend(kBeIn, kInDev, family, IPPROTO_TCP);
        const Seg want = in.from(vip_addr(family), kVipPort).hop().macs(kInDev.mac, kClient.mac);
        expect(in.build(), this->in(), XDPD_ACT_TX, XDPD_R_LB_REPLY, want.build());
    }
}

TEST_F(Lb, UdpOverIpv4WithoutChecksumKeepsNone) {
    service(4, IPPROTO_UDP, 0, 1, kBe1);
    Seg fwd = to_vip(4, IPPROTO_UDP);
    fwd.udp_no_checksum = true;
    expect(fwd.build(), in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
           fwd.to(kBe1.v4, kBePort).hop().macs(kOutDev.mac, kBe1.mac).build());
    Seg reply = from_backend(kBe1, kOutDev, 4, IPPROTO_UDP);
    reply.udp_no_checksum = true;
    expect(reply.build(), out(), XDPD_ACT_REDIRECT, XDPD_R_LB_REPLY,
           reply.from(kVip4, kVipPort).hop().macs(kInDev.mac, kClient.mac).build());
}

// The one client port whose rewritten UDP datagram sums to zero: its checksum
// must go out as 0xffff (0 means "no checksum" over IPv4, is invalid over IPv6).
TEST_F(Lb, UdpChecksumThatComesOutZeroIsSentAsAllOnes) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 1;
        service(family, IPPROTO_UDP, vip, 1 + vip, kBe1);
        Seg in = to_vip(family, IPPROTO_UDP);
        Seg want = in.to(kBe1.addr(family), kBePort).hop().macs(kOutDev.mac, kBe1.mac);
        // PacketBuilder writes a computed 0 as 0xffff; find the port where it does.
        int port = -1;
        for (int p = 1; p < 65536 && port < 0; ++p) {
            Seg w = want.with_sport(uint16_t(p));
            Bytes f = w.build();
            if (get16(f, (family == 4 ? 34 : 54) + 6) == 0xffff) port = p;
        }
        ASSERT_GT(port, 0);
        in.sport = uint16_t(port);
        want.sport = uint16_t(port);
        expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD, want.build());
    }
}

// ---- 3. DSR ---------------------------------------------------------------------

TEST_F(Lb, DsrChangesOnlyTheMacs) {
    __u32 vip = 0;
    for (int family : {4, 6})
        for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            SCOPED_TRACE(fmt::format("IPv{} {}", family, proto_name(proto)));
            service(family, proto, vip, 10 + vip, kBe1, XDPD_LB_VIP_F_DSR);
            const Seg in = to_vip(family, proto);
            expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
                   in.macs(kOutDev.mac, kBe1.mac).build());
            ++vip;
        }
    // Behind the ingress device: XDP_TX; and a TTL of 1 does not matter (no hop).
    service(4, IPPROTO_TCP, vip, 20, kBeIn, XDPD_LB_VIP_F_DSR, 443);
    Seg in = to_vip(4, IPPROTO_TCP, 443);
    in.ttl = 1;
    expect(in.build(), this->in(), XDPD_ACT_TX, XDPD_R_LB_FORWARD, in.macs(kInDev.mac, kBeIn.mac).build());
}

// ---- 4. all-port VIPs -------------------------------------------------------------

TEST_F(Lb, AllPortVipKeepsThePort) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 2;
        service(family, IPPROTO_TCP, vip, 1 + vip, kBe1, 0, 0, 0);                // all ports -> be1
        service(family, IPPROTO_TCP, vip + 1, 2 + vip, kBe2, 0, kVipPort, 8080);  // port 80 -> be2
        for (uint16_t port : {443, 12345}) {
            const Seg in = to_vip(family, IPPROTO_TCP, port);
            expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
                   in.to(kBe1.addr(family), port).hop().macs(kOutDev.mac, kBe1.mac).build());
        }
        const Seg in = to_vip(family, IPPROTO_TCP, kVipPort);  // the port's own service first
        expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
               in.to(kBe2.addr(family), 8080).hop().macs(kOutDev.mac, kBe2.mac).build());
        EXPECT_EQ(lb_->vip_stats(vip).fwd.packets, 2u);
        EXPECT_EQ(lb_->vip_stats(vip + 1).fwd.packets, 1u);
        // Replies are recognised by exact (address, port): an all-port
        // backend's are not (the config allows all ports only with DSR,
        // whose replies never pass here).
        for (uint16_t port : {443, 12345})
            expect_untouched(from_backend(kBe1, kOutDev, family, IPPROTO_TCP).from(kBe1.addr(family), port).build(),
                             out());
        EXPECT_EQ(lb_->vip_stats(vip).reply.packets, 0u);
        // be2's port 80 service: its own entry.
        const Seg reply = from_backend(kBe2, kOutDev, family, IPPROTO_TCP);
        expect(reply.build(), out(), XDPD_ACT_REDIRECT, XDPD_R_LB_REPLY,
               reply.from(vip_addr(family), kVipPort).hop().macs(kInDev.mac, kClient.mac).build());
        expect_untouched(reply.from(kBe2.addr(family), 22).build(), out());
    }
}

// Without a service of all ports (runtime.all_ports 0) no packet looks for
// one: the second VIP lookup is not made, and an entry alone finds nothing.
TEST_F(Lb, AllPortLookupOnlyWhenSuchServicesExist) {
    service(4, IPPROTO_TCP, 0, 1, kBe1, 0, 0, 0);  // all ports -> be1 (sets all_ports)
    lb_->set_all_ports(false);
    expect_untouched(to_vip(4, IPPROTO_TCP, 443).build(), in());
    lb_->set_all_ports(true);
    const Seg in = to_vip(4, IPPROTO_TCP, 443);
    expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
           in.to(kBe1.addr(4), 443).hop().macs(kOutDev.mac, kBe1.mac).build());
}

// ---- 5. the connection table --------------------------------------------------------

class LbTable : public Lb {
protected:
    // VIP 0 (TCP 80) and VIP 1 (UDP 80), IPv4: slot 1 = be1, slot 2 = be2; rings on be1.
    void SetUp() override {
        Lb::SetUp();
        for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            const __u32 vip = proto == IPPROTO_TCP ? 0 : 1;
            lb_->add_vip(kVip4, proto, kVipPort, vip);
            lb_->fill_ring(vip, 1 + 2 * vip);
        }
        backend(1, kBe1, 4, 0);
        backend(2, kBe2, 4, 0);
        backend(3, kBe1, 4, 1);
        backend(4, kBe2, 4, 1);
        lb_->set_lb_runtime(30 * kSec, 0);
        lb_->set_clock(100 * kSec);
    }
    void ring_to_be2() {
        lb_->fill_ring(0, 2);
        lb_->fill_ring(1, 4);
    }
};

TEST_F(LbTable, FlowKeepsItsBackendWhenTheRingChanges) {
    const Seg flow = to_vip(4, IPPROTO_TCP);
    EXPECT_EQ(went_to(flow.with_flags(kSyn)), 1);
    ring_to_be2();
    EXPECT_EQ(went_to(flow), 1) << "established flow stays";
    EXPECT_EQ(went_to(flow.with_flags(kAck | kPsh)), 1);
    EXPECT_EQ(went_to(flow.with_sport(40001)), 2) << "a new flow takes the new ring";
    auto vs = lb_->vip_stats(0);
    EXPECT_EQ(vs.table_hit, 2u);
    EXPECT_EQ(vs.table_miss, 2u);
    EXPECT_EQ(vs.new_flows, 2u);
    EXPECT_EQ(lb_->flow_count(), 2u);
}

TEST_F(LbTable, SynStartsOver) {
    const Seg flow = to_vip(4, IPPROTO_TCP);
    EXPECT_EQ(went_to(flow), 1);
    ring_to_be2();
    EXPECT_EQ(went_to(flow.with_flags(kSyn)), 2) << "a SYN re-hashes";
    EXPECT_EQ(lb_->flow(flow.key())->backend, 2u) << "and replaces the flow's entry";
    EXPECT_EQ(went_to(flow), 2);
    EXPECT_EQ(went_to(flow.with_flags(kSyn | kAck)), 2) << "SYN-ACK is not a SYN";
    auto vs = lb_->vip_stats(0);
    EXPECT_EQ(vs.table_miss, 2u);
    EXPECT_EQ(vs.table_hit, 2u);
}

TEST_F(LbTable, BackendDownOrReplacedRehashesItsFlows) {
    const Seg a = to_vip(4, IPPROTO_TCP), b = a.with_sport(40001), c = a.with_sport(40002);
    for (const Seg* s : {&a, &b, &c}) EXPECT_EQ(went_to(*s), 1);
    ring_to_be2();
    // Down: its flows re-hash (to the ring's be2).
    auto be1 = *lb_->backend(1);
    be1.flags = 0;
    lb_->update_backend(1, be1);
    EXPECT_EQ(went_to(a), 2);
    EXPECT_EQ(lb_->flow(a.key())->backend, 2u);
    // Up again, but the slot went to another backend (new gen): its flows re-hash too.
    be1.flags = XDPD_LB_BE_UP;
    be1.gen = 2;
    lb_->update_backend(1, be1);
    EXPECT_EQ(went_to(b), 2);
    // A flow made under the new gen stays.
    lb_->fill_ring(0, 1);
    EXPECT_EQ(went_to(b.with_sport(40009)), 1);
    EXPECT_EQ(lb_->flow(b.with_sport(40009).key())->gen, 2u);
    ring_to_be2();
    EXPECT_EQ(went_to(b.with_sport(40009)), 1);
    // Removed (slot freed: family 0): re-hash.
    lb_->update_backend(1, xdpd_lb_backend{});
    EXPECT_EQ(went_to(c), 2);
}

TEST_F(LbTable, IdleUdpFlowsRehashTcpFlowsDoNot) {
    const __u64 t0 = 100 * kSec;
    const Seg udp = to_vip(4, IPPROTO_UDP), tcp = to_vip(4, IPPROTO_TCP);
    EXPECT_EQ(went_to(udp), 1);
    EXPECT_EQ(went_to(tcp), 1);
    ring_to_be2();
    lb_->set_clock(t0 + 10 * kSec);
    EXPECT_EQ(went_to(udp), 1);
    EXPECT_EQ(lb_->flow(udp.key())->atime_ns, t0 + 10 * kSec) << "a hit refreshes the flow";
    lb_->set_clock(t0 + 40 * kSec);  // idle for exactly the timeout: still the flow's
    EXPECT_EQ(went_to(udp), 1);
    lb_->set_clock(t0 + 70 * kSec + 1);  // idle for longer
    EXPECT_EQ(went_to(udp), 2);
    EXPECT_EQ(went_to(tcp), 1) << "TCP flows have no idle timeout";
    lb_->set_clock(t0 + 70 * kSec + kSec / 2);
    EXPECT_EQ(went_to(udp), 2);
    EXPECT_EQ(lb_->flow(udp.key())->atime_ns, t0 + 70 * kSec + 1) << "refreshed at most once a second";
}

// Flows are shared by all CPUs: one CPU may refresh a flow's atime just after
// another read its clock, which then sees the flow "from the future".
TEST_F(LbTable, FlowRefreshedAMomentAgoIsNotIdle) {
    const Seg udp = to_vip(4, IPPROTO_UDP);
    EXPECT_EQ(went_to(udp), 1);
    ring_to_be2();
    lb_->set_clock(100 * kSec - 5);
    EXPECT_EQ(went_to(udp), 1);
    EXPECT_EQ(lb_->flow(udp.key())->atime_ns, 100 * kSec) << "not moved back";
    EXPECT_EQ(lb_->vip_stats(1).table_hit, 1u);
}

TEST_F(LbTable, NewFlowGuardStopsInsertingButKeepsForwarding) {
    lb_->set_lb_runtime(30 * kSec, 3);
    const Seg flow = to_vip(4, IPPROTO_TCP);
    for (uint16_t i = 0; i < 5; ++i) EXPECT_EQ(went_to(flow.with_sport(41000 + i)), 1);
    EXPECT_EQ(lb_->flow_count(), 3u);
    auto vs = lb_->vip_stats(0);
    EXPECT_EQ(vs.new_flows, 3u);
    EXPECT_EQ(vs.not_inserted, 2u);
    EXPECT_EQ(vs.fwd.packets, 5u);
    EXPECT_EQ(lb_->backend_stats(1).new_flows, 5u) << "five flows took be1 from the ring";
    EXPECT_FALSE(lb_->flow(flow.with_sport(41003).key()));
    // Flows that were not inserted follow the ring.
    ring_to_be2();
    EXPECT_EQ(went_to(flow.with_sport(41004)), 2);
    EXPECT_EQ(went_to(flow.with_sport(41000)), 1) << "inserted ones keep their backend";
    EXPECT_EQ(lb_->vip_stats(0).not_inserted, 3u);
    // The next second: room again.
    lb_->set_clock(101 * kSec);
    EXPECT_EQ(went_to(flow.with_sport(41004)), 2);
    EXPECT_TRUE(lb_->flow(flow.with_sport(41004).key()));
    EXPECT_EQ(lb_->flow_count(), 4u);
}

TEST_F(LbTable, MaglevRingSpreadsFlowsByTheirHash) {
    // A real Maglev table over be1 (slot 1) and be2 (slot 2): every flow goes
    // to the slot its hash picks, as the control plane computes it.
    auto table = lb::maglev_table({{.id = "be1", .slot = 1}, {.id = "be2", .slot = 2}});
    lb_->set_ring(0, table);
    int seen[3] = {};
    for (uint16_t p = 50000; p < 50040; ++p) {
        const Seg s = to_vip(4, IPPROTO_TCP).with_sport(p);
        const int want = int(table[LbMaps::ring_entry(s.key())]);
        const int got = went_to(s);
        EXPECT_EQ(got, want) << "port " << p;
        seen[got]++;
    }
    EXPECT_GT(seen[1], 0);
    EXPECT_GT(seen[2], 0);
}

// ---- 6. drops and passes ---------------------------------------------------------

TEST_F(Lb, VipWithoutBackendsDrops) {
    service(4, IPPROTO_TCP, 0, 1, kBe1);
    lb_->add_vip(kVip4, IPPROTO_TCP, kVipPort, 0, 0, 0);  // n_ring 0
    expect_drop(to_vip(4, IPPROTO_TCP).build(), in(), XDPD_R_LB_NO_BACKEND);
    EXPECT_EQ(lb_->vip_stats(0).no_backend, 1u);
    EXPECT_EQ(lb_->flow_count(), 0u);
}

TEST_F(Lb, FragmentsToAVipAddressDrop) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 1, addr_index = family == 4 ? 10 : 11;
        service(family, IPPROTO_UDP, vip, 1 + vip, kBe1);
        PacketBuilder b;
        b.eth(kClient.mac, kInDev.mac);
        if (family == 4)
            b.ipv4(kClient.v4, kVip4);
        else
            b.ipv6(kClient.v6, kVip6);
        const Bytes frag = b.fragment(1480, false).udp(kClientPort, kVipPort).payload(100).build();
        expect_untouched(frag, in());  // without the address entry: not a VIP address
        lb_->add_vip_address(vip_addr(family), addr_index);
        expect_drop(frag, in(), XDPD_R_LB_FRAGMENT);
        EXPECT_EQ(lb_->vip_stats(addr_index).fragments, 1u);
    }
}

TEST_F(Lb, NatDropsPacketsWhoseTtlWouldExpire) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 1;
        service(family, IPPROTO_TCP, vip, 1 + vip, kBe1);
        Seg in = to_vip(family, IPPROTO_TCP);
        in.ttl = 1;
        expect_drop(in.build(), this->in(), XDPD_R_LB_TTL);
        Seg reply = from_backend(kBe1, kOutDev, family, IPPROTO_TCP);
        reply.ttl = 1;
        expect_drop(reply.build(), out(), XDPD_R_LB_TTL);
        in.ttl = 2;
        expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
               in.to(kBe1.addr(family), kBePort).hop().macs(kOutDev.mac, kBe1.mac).build());
        EXPECT_EQ(lb_->vip_stats(vip).fwd.packets, 1u);
        EXPECT_EQ(lb_->vip_stats(vip).reply.packets, 0u);
    }
}

TEST_F(Lb, LongerThanTheEgressMtuDrops) {
    topo_->set_mtu(kOut, 1280);
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 1;
        service(family, IPPROTO_UDP, vip, 1 + vip, kBe1);
        Seg in = to_vip(family, IPPROTO_UDP);
        const size_t headers = (family == 4 ? 20 : 40) + 8;
        in.payload = 1280 - headers;  // exactly the MTU
        expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
               in.to(kBe1.addr(family), kBePort).hop().macs(kOutDev.mac, kBe1.mac).build());
        in.payload++;
        expect_drop(in.build(), this->in(), XDPD_R_LB_OVERSIZED);
        EXPECT_EQ(lb_->vip_stats(vip).oversized, 1u);
        // Replies: the MTU of the client's device (1500) applies.
        Seg reply = from_backend(kBe1, kOutDev, family, IPPROTO_UDP);
        reply.payload = 1500 - headers;
        expect(reply.build(), out(), XDPD_ACT_REDIRECT, XDPD_R_LB_REPLY,
               reply.from(vip_addr(family), kVipPort).hop().macs(kInDev.mac, kClient.mac).build());
        reply.payload++;
        expect_drop(reply.build(), out(), XDPD_R_LB_OVERSIZED);
        EXPECT_EQ(lb_->vip_stats(vip).oversized, 2u);
    }
}

TEST_F(Lb, UnresolvedNeighbourNatPassesRewrittenDsrDrops) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 vip = family == 4 ? 0 : 2;
        service(family, IPPROTO_TCP, vip, 1 + vip, kNoNeigh);
        const Seg in = to_vip(family, IPPROTO_TCP);
        // The kernel routes it (and resolves the neighbour): addresses NATed,
        // TTL and MACs left for the kernel's forwarding.
        expect(in.build(), this->in(), XDPD_ACT_PASS, XDPD_R_LB_NEIGH_PASS,
               in.to(kNoNeigh.addr(family), kBePort).build());
        EXPECT_EQ(lb_->vip_stats(vip).fwd.packets, 1u);
        service(family, IPPROTO_UDP, vip + 1, 2 + vip, kNoNeigh, XDPD_LB_VIP_F_DSR);
        expect_drop(to_vip(family, IPPROTO_UDP).build(), this->in(), XDPD_R_LB_NO_ROUTE);
        EXPECT_EQ(lb_->vip_stats(vip + 1).no_route, 1u);
        EXPECT_EQ(lb_->vip_stats(vip + 1).fwd.packets, 0u);
    }
}

TEST_F(Lb, BackendWithoutARouteDrops) {
    lb_->add_vip(kVip4, IPPROTO_TCP, kVipPort, 0);
    lb_->set_backend(1, "192.0.2.10", kBePort, 0);  // no route, no default route
    lb_->fill_ring(0, 1);
    expect_drop(to_vip(4, IPPROTO_TCP).build(), in(), XDPD_R_LB_NO_ROUTE);
    EXPECT_EQ(lb_->vip_stats(0).no_route, 1u);
}

// ---- 7. ICMP echo ------------------------------------------------------------------

TEST_F(Lb, EchoRequestToAVipIsAnswered) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const __u32 index = family == 4 ? 5 : 6;
        const Bytes req = echo(kClient.mac, kInDev.mac, family, kClient.addr(family), vip_addr(family), 50, false);
        expect_untouched(req, in());  // not a VIP address yet
        lb_->add_vip_address(vip_addr(family), index);
        expect(req, in(), XDPD_ACT_TX, XDPD_R_LB_ICMP_ECHO,
               echo(kInDev.mac, kClient.mac, family, vip_addr(family), kClient.addr(family), 64, true));
        EXPECT_EQ(lb_->vip_stats(index).icmp_echo, 1u);
    }
}

// ---- 8. ICMP "too big" to the flow's backend ---------------------------------------

class LbIcmpError : public Lb, public ::testing::WithParamInterface<std::tuple<int, bool>> {
protected:
    int family() const { return std::get<0>(GetParam()); }
    bool dsr() const { return std::get<1>(GetParam()); }
};

TEST_P(LbIcmpError, GoesToTheBackendOwningTheQuotedFlow) {
    const int fam = family();
    const __u32 flags = dsr() ? XDPD_LB_VIP_F_DSR : 0;
    service(fam, IPPROTO_TCP, 0, 1, kBe1, flags);
    backend(2, kBe2, fam, 0);
    // The client's flow is on be1; then the ring moves to be2.
    const Seg flow = to_vip(fam, IPPROTO_TCP);
    EXPECT_EQ(went_to(flow), 1);
    lb_->fill_ring(0, 2);

    // What the VIP sent the client (a NAT reply or a DSR backend's answer),
    // quoted by a router that cannot forward it.
    Seg sent;
    sent.family = fam;
    sent.src = vip_addr(fam);
    sent.sport = kVipPort;
    sent.dst = kClient.addr(fam);
    sent.dport = kClientPort;
    sent.ttl = 63;
    sent.payload = 24;
    const Bytes quoted = ip_packet(sent);
    const Bytes err = icmp_too_big(kClient.mac, kInDev.mac, fam, kClient.addr(fam), vip_addr(fam), 64, quoted, 1400);

    Bytes want;
    if (dsr()) {
        want = icmp_too_big(kOutDev.mac, kBe1.mac, fam, kClient.addr(fam), vip_addr(fam), 64, quoted, 1400);
    } else {
        // The quote as the backend sent it before NAT; its TCP checksum stays
        // the one the client would have seen (nobody verifies it in a quote).
        Bytes q = ip_packet(sent.from(kBe1.addr(fam), kBePort));
        const size_t tcp_sum = (fam == 4 ? 20 : 40) + 16;
        std::copy_n(quoted.begin() + tcp_sum, 2, q.begin() + tcp_sum);
        want = icmp_too_big(kOutDev.mac, kBe1.mac, fam, kClient.addr(fam), kBe1.addr(fam), 63, q, 1400);
    }
    expect(err, in(), XDPD_ACT_REDIRECT, XDPD_R_LB_ICMP_ERROR, want);
    auto vs = lb_->vip_stats(0);
    EXPECT_EQ(vs.icmp_error, 1u);
    EXPECT_EQ(vs.fwd.packets, 1u) << "only the flow's packet";
    EXPECT_EQ(vs.table_hit + vs.table_miss, 1u) << "the ICMP error's lookup is not counted";
    EXPECT_EQ(lb_->flow_count(), 1u);

    // A quote of a flow the table does not know: the ring's backend (be2).
    Seg other = sent.to(kClient.addr(fam), kClientPort + 1);
    const Bytes err2 =
        icmp_too_big(kClient.mac, kInDev.mac, fam, kClient.addr(fam), vip_addr(fam), 64, ip_packet(other), 1400);
    LbSent s = send(err2, in());
    EXPECT_EQ(s.reason, XDPD_R_LB_ICMP_ERROR);
    EXPECT_TRUE(s.packet.size() > 6 && std::equal(kBe2.mac.begin(), kBe2.mac.end(), s.packet.begin()));
    EXPECT_TRUE(checksums_ok(s.packet));
    EXPECT_EQ(lb_->flow_count(), 1u) << "ICMP errors insert no flow";
}

INSTANTIATE_TEST_SUITE_P(, LbIcmpError, ::testing::Combine(::testing::Values(4, 6), ::testing::Bool()),
                         [](const auto& i) {
                             return fmt::format("Ipv{}{}", std::get<0>(i.param), std::get<1>(i.param) ? "Dsr" : "Nat");
                         });

// ---- 9. not the load balancer's ---------------------------------------------------

TEST_F(Lb, OtherTrafficPassesUnchanged) {
    service(4, IPPROTO_TCP, 0, 1, kBe1);
    service(6, IPPROTO_TCP, 1, 2, kBe1);
    lb_->add_vip_address(kVip4, 2);
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Seg vip = to_vip(family, IPPROTO_TCP);
        expect_untouched(vip.to(kBe2.addr(family), kVipPort).build(), in());  // not a VIP
        expect_untouched(vip.to(vip_addr(family), 443).build(), in());        // other port
        Seg udp = to_vip(family, IPPROTO_UDP);
        expect_untouched(udp.build(), in());  // other protocol
        // From a backend, but not from its service port.
        expect_untouched(from_backend(kBe1, kOutDev, family, IPPROTO_TCP).from(kBe1.addr(family), 22).build(), out());
        // ICMP errors about flows that are not a VIP's.
        Seg sent = from_backend(kBe2, kOutDev, family, IPPROTO_TCP);
        expect_untouched(icmp_too_big(kClient.mac, kInDev.mac, family, kClient.addr(family), kBe2.addr(family), 64,
                                      ip_packet(sent), 1400),
                         in());
        expect_untouched(echo(kClient.mac, kInDev.mac, family, kClient.addr(family), kBe1.addr(family), 64, false),
                         in());
    }
    expect_untouched(PacketBuilder().eth(kClient.mac, kInDev.mac).ethertype(0x0806).payload(28).build(), in(),
                     XDPD_R_NON_IP);
    EXPECT_EQ(lb_->flow_count(), 0u);
    EXPECT_EQ(lb_->vip_stats(0).fwd.packets + lb_->vip_stats(1).fwd.packets, 0u);
}

TEST_F(Lb, FirewallDecidesFirstAndKeepsItsReasonForOtherTraffic) {
    load_lb({.firewall = true, .lb = true, .lb_nat = true});
    fw::RuleSet rs;
    rs.rules.push_back(rule(fw::Action::deny, fw::Match{.src = cidr("10.77.0.66/32")}));
    install(rs);  // default allow
    service(4, IPPROTO_TCP, 0, 1, kBe1);
    const Seg in = to_vip(4, IPPROTO_TCP);
    expect_untouched(in.to(kBe2.v4, 80).build(), this->in(), XDPD_R_DEFAULT_ALLOW);
    expect_drop(in.from("10.77.0.66", 1234).build(), this->in(), XDPD_R_FW_DENY);
    expect(in.build(), this->in(), XDPD_ACT_REDIRECT, XDPD_R_LB_FORWARD,
           in.to(kBe1.v4, kBePort).hop().macs(kOutDev.mac, kBe1.mac).build());
    EXPECT_EQ(lb_->vip_stats(0).fwd.packets, 1u);
}

TEST_F(Lb, StageCompiledOutIgnoresVipTraffic) {
    service(4, IPPROTO_TCP, 0, 1, kBe1);
    service(6, IPPROTO_UDP, 1, 2, kBe1);
    lb_->add_vip_address(kVip4, 2);
    auto off = bpf::Pipeline::load({.ifslot = 1, .firewall = false, .lb = false}, pipeline_.get());
    for (const Bytes& pkt : {to_vip(4, IPPROTO_TCP).build(), to_vip(6, IPPROTO_UDP).build(),
                             from_backend(kBe1, kOutDev, 4, IPPROTO_TCP).build(),
                             echo(kClient.mac, kInDev.mac, 4, kClient.v4, kVip4, 64, false)}) {
        auto r = run_on(off, pkt, in());
        EXPECT_EQ(r.action, XDPD_ACT_PASS);
        EXPECT_TRUE(same_bytes(r.packet, pkt));
    }
    EXPECT_EQ(lb_->flow_count(), 0u);
    for (__u32 v : {0u, 1u, 2u}) {
        auto vs = lb_->vip_stats(v);
        EXPECT_EQ(vs.fwd.packets + vs.reply.packets + vs.icmp_echo + vs.table_miss, 0u);
    }
}

// ---- 10. probe instances ------------------------------------------------------------

TEST_F(Lb, ProbeRecordsTheDecisionAndChangesNothing) {
    service(4, IPPROTO_TCP, 3, 7, kBe1);
    backend(8, kBe2, 4, 3);
    lb_->add_vip(kVip4, IPPROTO_UDP, 53, 4, 0, 0);  // no backend
    lb_->add_vip_address(kVip4, 5);
    auto probe = bpf::Pipeline::load({.ifslot = 2, .firewall = false, .lb = true, .lb_nat = true, .lb_probe = true},
                                     pipeline_.get());
    auto probe_map = probe.map("xdpd_lb_probe");
    auto decision = [&] { return *bpf::Map<__u32, xdpd_lb_probe>(probe_map).lookup(0); };
    auto all_stats = [&] {
        const auto stats_map = pipeline_->map("xdpd_stats");
        bpf::PerCpuMap<__u32, xdpd_if_stats> m(stats_map);
        auto a = m.lookup_all(0), b = m.lookup_all(2);
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    auto lb_stats = [&] {
        std::vector<__u64> v;
        for (__u32 i : {3u, 4u, 5u}) {
            auto s = lb_->vip_stats(i);
            v.insert(v.end(), reinterpret_cast<__u64*>(&s), reinterpret_cast<__u64*>(&s + 1));
        }
        for (__u32 i : {7u, 8u}) {
            auto s = lb_->backend_stats(i);
            v.insert(v.end(), reinterpret_cast<__u64*>(&s), reinterpret_cast<__u64*>(&s + 1));
        }
        return v;
    };
    auto counters = [&] { return std::make_pair(all_stats(), lb_stats()); };
    const auto zero = counters();
    auto same_counters = [&](const auto& want) {
        auto now = counters();
        EXPECT_TRUE(now.first.size() == want.first.size() &&
                    std::memcmp(now.first.data(), want.first.data(), now.first.size() * sizeof(xdpd_if_stats)) == 0)
            << "interface counters moved";
        EXPECT_EQ(now.second, want.second) << "LB counters moved";
    };

    const Seg flow = to_vip(4, IPPROTO_TCP);
    run_on(probe, flow.build(), in());
    xdpd_lb_probe d = decision();
    EXPECT_EQ(d.seq, 1u);
    EXPECT_EQ(d.vip, 3u);
    EXPECT_EQ(d.backend, 7u);
    EXPECT_EQ(d.table_hit, 0u);
    EXPECT_EQ(lb_->flow_count(), 0u) << "a probe inserts no flow";
    same_counters(zero);

    // The flow made by real traffic, then the ring moved: the probe sees the table.
    forward(flow);
    lb_->fill_ring(3, 8);
    const auto after_one = counters();
    run_on(probe, flow.build(), in());
    d = decision();
    EXPECT_EQ(d.seq, 2u);
    EXPECT_EQ(d.backend, 7u);
    EXPECT_EQ(d.table_hit, 1u);
    const auto f = *lb_->flow(flow.key());
    run_on(probe, flow.with_flags(kSyn).build(), in());
    EXPECT_EQ(decision().backend, 8u) << "a SYN would re-hash";
    EXPECT_EQ(decision().table_hit, 0u);
    EXPECT_EQ(lb_->flow(flow.key())->backend, f.backend) << "... but the probe replaces no flow";
    EXPECT_EQ(lb_->flow(flow.key())->atime_ns, f.atime_ns);

    run_on(probe, to_vip(4, IPPROTO_UDP, 53).build(), in());
    d = decision();
    EXPECT_EQ(d.seq, 4u);
    EXPECT_EQ(d.vip, 4u);
    EXPECT_EQ(d.backend, ~0u) << "no backend";
    // Not to a VIP, a reply (a probe does not rewrite them), an echo (not
    // answered): recorded as not to a VIP.
    const Bytes not_vip[] = {flow.to(kBe2.v4, 80).build(), from_backend(kBe1, kOutDev, 4, IPPROTO_TCP).build(),
                             echo(kClient.mac, kInDev.mac, 4, kClient.v4, kVip4, 64, false)};
    __u32 seq = 4;
    for (const Bytes& pkt : not_vip) {
        auto r = run_on(probe, pkt, in());
        EXPECT_EQ(r.action, XDPD_ACT_PASS);
        EXPECT_TRUE(same_bytes(r.packet, pkt));
        d = decision();
        EXPECT_EQ(d.seq, ++seq);
        EXPECT_EQ(d.vip, ~0u);
        EXPECT_EQ(d.backend, ~0u);
        EXPECT_EQ(d.table_hit, 0u);
    }
    EXPECT_EQ(lb_->flow_count(), 1u);
    same_counters(after_one);
}

// ---- 11. counters ---------------------------------------------------------------------

TEST_F(Lb, VipAndBackendCountersMatchWhatWasSent) {
    lb_->add_vip(kVip4, IPPROTO_TCP, kVipPort, 0);
    backend(1, kBe1, 4, 0);
    backend(2, kBe2, 4, 0);
    auto table = lb::maglev_table({{.id = "be1", .slot = 1}, {.id = "be2", .slot = 2}});
    lb_->set_ring(0, table);
    lb_->add_nat(kBe1.v4, kBePort, IPPROTO_TCP, kVip4, kVipPort, 0, 1);
    lb_->add_nat(kBe2.v4, kBePort, IPPROTO_TCP, kVip4, kVipPort, 0, 2);
    lb_->add_vip_address(kVip4, 0);  // the address entry shares the VIP's counters

    struct Want {
        __u64 pkts = 0, bytes = 0, rpkts = 0, rbytes = 0, new_flows = 0;
    } be[3];
    xdpd_lb_vip_stats want{};
    for (uint16_t p = 42000; p < 42010; ++p) {
        Seg s = to_vip(4, IPPROTO_TCP).with_sport(p);
        s.payload = p % 7 * 100;
        const int slot = int(table[LbMaps::ring_entry(s.key())]);
        for (int i = 0; i < 1 + p % 3; ++i) {  // 1 to 3 packets per flow
            const Bytes pkt = s.build();
            forward(s);
            be[slot].pkts++;
            be[slot].bytes += pkt.size();
            want.fwd.packets++;
            want.fwd.bytes += pkt.size();
            if (i == 0) {
                be[slot].new_flows++;
                want.new_flows++;
                want.table_miss++;
            } else {
                want.table_hit++;
            }
        }
        const Bytes reply = from_backend(slot == 1 ? kBe1 : kBe2, kOutDev, 4, IPPROTO_TCP).with_sport(kBePort).build();
        EXPECT_EQ(send(reply, out()).reason, XDPD_R_LB_REPLY);
        be[slot].rpkts++;
        be[slot].rbytes += reply.size();
        want.reply.packets++;
        want.reply.bytes += reply.size();
    }
    send(echo(kClient.mac, kInDev.mac, 4, kClient.v4, kVip4, 64, false), in());
    want.icmp_echo++;
    Seg ttl = to_vip(4, IPPROTO_TCP).with_sport(42000);
    ttl.ttl = 1;
    expect_drop(ttl.build(), in(), XDPD_R_LB_TTL);  // dropped before the table: no hit, no flow

    const auto got = lb_->vip_stats(0);
    EXPECT_EQ(got.fwd.packets, want.fwd.packets);
    EXPECT_EQ(got.fwd.bytes, want.fwd.bytes);
    EXPECT_EQ(got.reply.packets, want.reply.packets);
    EXPECT_EQ(got.reply.bytes, want.reply.bytes);
    EXPECT_EQ(got.new_flows, want.new_flows);
    EXPECT_EQ(got.table_hit, want.table_hit);
    EXPECT_EQ(got.table_miss, want.table_miss);
    EXPECT_EQ(got.icmp_echo, want.icmp_echo);
    EXPECT_EQ(got.not_inserted + got.no_backend + got.no_route + got.oversized + got.icmp_error + got.fragments, 0u);
    for (__u32 slot : {1u, 2u}) {
        SCOPED_TRACE(slot);
        const auto b = lb_->backend_stats(slot);
        EXPECT_EQ(b.fwd.packets, be[slot].pkts);
        EXPECT_EQ(b.fwd.bytes, be[slot].bytes);
        EXPECT_EQ(b.reply.packets, be[slot].rpkts);
        EXPECT_EQ(b.reply.bytes, be[slot].rbytes);
        EXPECT_EQ(b.new_flows, be[slot].new_flows);
        EXPECT_GT(b.fwd.packets, 0u) << "the Maglev ring gave both backends flows";
    }
    // The interface counters agree.
    EXPECT_EQ(reason_packets(XDPD_R_LB_FORWARD), want.fwd.packets);
    EXPECT_EQ(reason_packets(XDPD_R_LB_REPLY), want.reply.packets);
    EXPECT_EQ(reason_packets(XDPD_R_LB_ICMP_ECHO), 1u);
    EXPECT_EQ(reason_packets(XDPD_R_LB_TTL), 1u);
}

}  // namespace
}  // namespace xdpd::test
