// SYN cookie stage, in the kernel: a SYN to a protected port comes back as a
// SYN-ACK (checked field by field: addresses, ports, sequence numbers, flags,
// options, checksums), ACKs carrying its cookie pass, forged ones are dropped.
// Also: the stage's cost per SYN, measured with BPF_PROG_TEST_RUN.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "bpf/test_run.hpp"
#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

constexpr uint16_t kMss4 = 1400, kMss6 = 1380;
constexpr uint8_t kWscale = 9, kTtl = 77;
constexpr uint32_t kClientSeq = 1000;  // what PacketBuilder puts in every TCP header

uint16_t get16(const Bytes& b, size_t o) { return uint16_t(b[o] << 8 | b[o + 1]); }
uint32_t get32(const Bytes& b, size_t o) { return uint32_t(get16(b, o)) << 16 | get16(b, o + 2); }
void put16(Bytes& b, size_t o, uint16_t v) { b[o] = uint8_t(v >> 8); b[o + 1] = uint8_t(v); }
void put32(Bytes& b, size_t o, uint32_t v) { put16(b, o, uint16_t(v >> 16)); put16(b, o + 2, uint16_t(v)); }

// A Linux client's SYN options: MSS, SACK-permitted, timestamps, NOP, window scale.
Bytes linux_syn_options(uint16_t mss, uint32_t tsval, uint8_t wscale) {
    Bytes o = {2, 4, uint8_t(mss >> 8), uint8_t(mss), 4, 2, 8, 10};
    for (int i = 3; i >= 0; --i) o.push_back(uint8_t(tsval >> (8 * i)));
    o.insert(o.end(), {0, 0, 0, 0, 1, 3, 3, wscale});
    return o;
}

// Recomputes the TCP checksum of a frame built by PacketBuilder b after a
// test edited the TCP header.
void fix_tcp_checksum(Bytes& f, const PacketBuilder& b, int family) {
    size_t l3 = b.l3_offset(), l4 = b.l4_offset(), len = f.size() - l4;
    uint32_t s = 0;
    auto add = [&](size_t o, size_t n) {
        for (size_t i = 0; i < n; i += 2) s += get16(f, o + i);
    };
    if (family == 4) {
        add(l3 + 12, 8);
    } else {
        add(l3 + 8, 32);
    }
    s += IPPROTO_TCP + uint32_t(len);
    put16(f, l4 + 16, 0);
    put16(f, l4 + 16, inet_checksum(&f[l4], len, s));
}

// The client's ACK completing the handshake the SYN-ACK started.
Bytes ack_for(const PacketBuilder& b, int family, uint32_t seq, uint32_t ack) {
    Bytes f = b.build();
    put32(f, b.l4_offset() + 4, seq);
    put32(f, b.l4_offset() + 8, ack);
    fix_tcp_checksum(f, b, family);
    return f;
}

// The TCP options of a SYN-ACK, decoded.
struct SynAckOpts {
    int mss = -1, wscale = -1;
    bool sack = false, ts = false;
    uint32_t tsval = 0, tsecr = 0;
    bool only_known = true;  // nothing but NOP, MSS, SACK-perm, TS, WS
};

SynAckOpts decode_options(const Bytes& f, size_t from, size_t to) {
    SynAckOpts o;
    for (size_t i = from; i < to;) {
        uint8_t kind = f[i];
        if (kind == 0) break;
        if (kind == 1) { ++i; continue; }
        uint8_t len = f[i + 1];
        if (kind == 2 && len == 4) o.mss = get16(f, i + 2);
        else if (kind == 3 && len == 3) o.wscale = f[i + 2];
        else if (kind == 4 && len == 2) o.sack = true;
        else if (kind == 8 && len == 10) { o.ts = true; o.tsval = get32(f, i + 2); o.tsecr = get32(f, i + 6); }
        else o.only_known = false;
        i += len;
    }
    return o;
}

class SynCookies : public PipelineFixture {
protected:
    void SetUp() override { load_with({80, 443}); }

    void load_with(std::vector<__u16> ports, bool firewall = false) {
        bpf::PipelineConfig cfg;
        cfg.firewall = firewall;
        cfg.syncookie_ports = std::move(ports);
        cfg.syncookie_mss4 = kMss4;
        cfg.syncookie_mss6 = kMss6;
        cfg.syncookie_wscale = kWscale;
        cfg.syncookie_ttl = kTtl;
        load(cfg);
    }

    // Sends the SYN b builds, checks the SYN-ACK field by field against it and
    // returns the cookie (the SYN-ACK's sequence number).
    uint32_t expect_synack(const PacketBuilder& b, int family, size_t tcp_len, const Bytes& vlan = {}) {
        const Bytes syn = b.build();
        auto r = run(syn);
        EXPECT_EQ(r.action, XDP_TX);
        const Bytes& f = r.packet;
        const size_t l3 = b.l3_offset(), l4 = b.l4_offset();
        EXPECT_EQ(f.size(), l4 + tcp_len) << "frame holds exactly the SYN-ACK";
        if (f.size() < l4 + 20) return 0;
        EXPECT_TRUE(checksums_valid(f)) << "IP and TCP checksums of the SYN-ACK";
        // Ethernet: addresses swapped, VLAN tags and type kept.
        EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, syn.begin() + 6));
        EXPECT_TRUE(std::equal(f.begin() + 6, f.begin() + 12, syn.begin()));
        EXPECT_TRUE(std::equal(f.begin() + 12, f.begin() + l3, syn.begin() + 12));
        if (!vlan.empty()) {
            EXPECT_TRUE(std::equal(vlan.begin(), vlan.end(), f.begin() + 12));
        }
        if (family == 4) {
            EXPECT_EQ(f[l3], 0x45);
            EXPECT_EQ(get16(f, l3 + 2), 20 + tcp_len) << "total length";
            EXPECT_EQ(get16(f, l3 + 4), 0) << "id";
            EXPECT_EQ(get16(f, l3 + 6), 0x4000) << "DF, no fragment offset";
            EXPECT_EQ(f[l3 + 8], kTtl);
            EXPECT_EQ(f[l3 + 9], IPPROTO_TCP);
            EXPECT_EQ(get32(f, l3 + 12), get32(syn, l3 + 16)) << "source = the SYN's destination";
            EXPECT_EQ(get32(f, l3 + 16), get32(syn, l3 + 12));
        } else {
            EXPECT_EQ(get32(f, l3), 0x60000000u) << "version 6, no traffic class or flow label";
            EXPECT_EQ(get16(f, l3 + 4), tcp_len) << "payload length";
            EXPECT_EQ(f[l3 + 6], IPPROTO_TCP);
            EXPECT_EQ(f[l3 + 7], kTtl) << "hop limit";
            EXPECT_TRUE(std::equal(f.begin() + l3 + 8, f.begin() + l3 + 24, syn.begin() + l3 + 24));
            EXPECT_TRUE(std::equal(f.begin() + l3 + 24, f.begin() + l3 + 40, syn.begin() + l3 + 8));
        }
        EXPECT_EQ(get16(f, l4), get16(syn, l4 + 2)) << "source port = the SYN's destination port";
        EXPECT_EQ(get16(f, l4 + 2), get16(syn, l4));
        EXPECT_EQ(get32(f, l4 + 8), kClientSeq + 1) << "acknowledges the SYN";
        EXPECT_EQ(f[l4 + 12] >> 4, tcp_len / 4) << "data offset";
        EXPECT_EQ(f[l4 + 13], kSyn | kAck) << "flags: SYN and ACK only (no ECN)";
        EXPECT_EQ(get16(f, l4 + 14), 0) << "window 0: no data before SYNPROXY opens the window";
        EXPECT_EQ(get16(f, l4 + 18), 0) << "urgent pointer";
        return get32(f, l4 + 4);
    }

};

TEST_F(SynCookies, LinuxSynBecomesSynAckWithAllOptionsIpv4) {
    const uint32_t client_ts = 0x11223344;
    auto b = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(40000, 80, kSyn,
                                                                     linux_syn_options(1460, client_ts, 7));
    expect_synack(b, 4, 40);
    auto f = run(b.build()).packet;
    auto o = decode_options(f, b.l4_offset() + 20, f.size());
    EXPECT_TRUE(o.only_known);
    EXPECT_EQ(o.mss, kMss4);
    EXPECT_EQ(o.wscale, kWscale);
    EXPECT_TRUE(o.sack);
    ASSERT_TRUE(o.ts);
    EXPECT_EQ(o.tsecr, client_ts) << "echoes the client's TSval";
    EXPECT_EQ(o.tsval & 0xf, 7u) << "low bits remember the client's window scale";
    EXPECT_EQ(o.tsval & 0x10, 0x10u) << "and that it allows SACK";
    EXPECT_EQ(o.tsval & 0x20, 0u) << "no ECN";
    // Option layout: MSS, SACK-perm + TS, NOP + WS (words aligned).
    size_t op = b.l4_offset() + 20;
    EXPECT_EQ(get32(f, op), 0x02040000u | kMss4);
    EXPECT_EQ(get16(f, op + 4), 0x0402);
    EXPECT_EQ(get16(f, op + 6), 0x080a);
    EXPECT_EQ(get32(f, op + 16), 0x01030300u | kWscale);
    EXPECT_EQ(reason_packets(XDPD_R_SYNCOOKIE_SENT), 2u);
    EXPECT_EQ(action_packets(XDPD_ACT_TX), 2u);
}

TEST_F(SynCookies, LinuxSynBecomesSynAckIpv6) {
    auto b = PacketBuilder().ipv6("2001:db8::7", "2001:db8::1").tcp(40000, 443, kSyn,
                                                                    linux_syn_options(1440, 5, 14));
    expect_synack(b, 6, 40);
    auto f = run(b.build()).packet;
    auto o = decode_options(f, b.l4_offset() + 20, f.size());
    EXPECT_EQ(o.mss, kMss6);
    EXPECT_EQ(o.wscale, kWscale);
    EXPECT_TRUE(o.sack);
    EXPECT_EQ(o.tsecr, 5u);
    EXPECT_EQ(o.tsval & 0x3f, 0x10u | 14u);
}

TEST_F(SynCookies, SynWithoutOptionsGetsOnlyMssAndTheFrameGrows) {
    // hping3's SYN: a bare 20-byte header. Without timestamps nothing but the
    // MSS can be remembered, so nothing else is offered.
    auto b = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kSyn);
    expect_synack(b, 4, 24);
    auto f = run(b.build()).packet;
    auto o = decode_options(f, b.l4_offset() + 20, f.size());
    EXPECT_EQ(o.mss, kMss4);
    EXPECT_FALSE(o.ts);
    EXPECT_FALSE(o.sack);
    EXPECT_EQ(o.wscale, -1);
}

TEST_F(SynCookies, TimestampsWithoutWindowScaling) {
    Bytes opts = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0};  // NOP NOP TS
    auto b = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kSyn, opts);
    expect_synack(b, 4, 36);
    auto f = run(b.build()).packet;
    auto o = decode_options(f, b.l4_offset() + 20, f.size());
    EXPECT_TRUE(o.ts);
    EXPECT_FALSE(o.sack);
    EXPECT_EQ(o.wscale, -1) << "no window scale offered to a client that does not scale";
    EXPECT_EQ(o.tsval & 0x3f, 0xfu) << "0xf: no window scaling";
    EXPECT_EQ(o.tsecr, 9u);
}

TEST_F(SynCookies, PaddedAndLongFramesShrinkToTheSynAck) {
    auto b = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kSyn).pad_to(60);
    expect_synack(b, 4, 24);  // Ethernet minimum padding dropped
    auto b2 = PacketBuilder().ipv6("2001:db8::7", "2001:db8::1")
                  .tcp(1234, 80, kSyn, linux_syn_options(1440, 5, 7)).payload(100);
    expect_synack(b2, 6, 40);  // SYN with data (TFO-like): the data is not answered
}

TEST_F(SynCookies, VlanTaggedSyn) {
    auto b = PacketBuilder().vlan(10).vlan(20, 0x8100).ipv4("198.51.100.7", "192.0.2.1")
                 .tcp(1234, 80, kSyn, linux_syn_options(1460, 1, 7));
    expect_synack(b, 4, 40, {0x81, 0x00, 0x00, 10});
}

TEST_F(SynCookies, OtherPacketsAreLeftAlone) {
    auto same = [&](const Bytes& pkt) {
        auto r = run(pkt);
        EXPECT_EQ(r.action, XDP_PASS);
        EXPECT_EQ(r.packet, pkt);
    };
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 22, kSyn).build());   // port
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").udp(1234, 80).build());         // UDP
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kRst).build());   // RST
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kSyn | kAck).build());
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1234, 80, kSyn | kFin).build());
    // Unusual SYNs go to the kernel, where SYNPROXY answers them.
    same(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").ip_options({1, 1, 1, 1})
             .tcp(1234, 80, kSyn).build());
    same(PacketBuilder().ipv6("2001:db8::7", "2001:db8::1").ipv6_ext(0).tcp(1234, 80, kSyn).build());
    EXPECT_EQ(reason_packets(XDPD_R_SYNCOOKIE_SENT), 0u);
    EXPECT_EQ(action_packets(XDPD_ACT_TX), 0u);
}

TEST_F(SynCookies, ValidAckPassesForgedAcksAreDropped) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        auto syn = family == 4 ? PacketBuilder().ipv4("198.51.100.7", "192.0.2.1")
                               : PacketBuilder().ipv6("2001:db8::7", "2001:db8::1");
        auto ack = syn;
        syn.tcp(40000, 80, kSyn, linux_syn_options(1460, 77, 7));
        uint32_t cookie = expect_synack(syn, family, 40);
        ack.tcp(40000, 80, kAck);

        auto before = stats();
        EXPECT_EQ(verdict(ack_for(ack, family, kClientSeq + 1, cookie + 1)), XDP_PASS);
        EXPECT_EQ(verdict(ack_for(ack, family, kClientSeq + 1, cookie + 1)), XDP_PASS);
        // With data and PSH too: the first segment still carries the cookie.
        auto data = ack;
        data.tcp(40000, 80, kAck | kPsh).payload(10);
        EXPECT_EQ(verdict(ack_for(data, family, kClientSeq + 1, cookie + 1)), XDP_PASS);
        EXPECT_EQ(xdpd_reason_total(stats(), XDPD_R_SYNCOOKIE_OK).packets - xdpd_reason_total(before, XDPD_R_SYNCOOKIE_OK).packets, 3u);

        before = stats();
        // (A kernel cookie keeps its MSS index, 0-3, in its low bits: an ACK a
        // few units off can decode to another valid index and pass. Forgeries
        // here are off by more.)
        EXPECT_EQ(verdict(ack_for(ack, family, kClientSeq + 1, cookie + 1 + 0x1000)), XDP_DROP) << "wrong cookie";
        EXPECT_EQ(verdict(ack_for(ack, family, kClientSeq + 1, cookie + 1 + 0x40000000)), XDP_DROP) << "stale cookie";
        EXPECT_EQ(verdict(ack_for(ack, family, kClientSeq + 1 + 0x1000, cookie + 1)), XDP_DROP) << "wrong ISN";
        EXPECT_EQ(verdict(ack_for(ack, family, 12345, 67890)), XDP_DROP) << "random";
        auto other = family == 4 ? PacketBuilder().ipv4("198.51.100.8", "192.0.2.1")
                                 : PacketBuilder().ipv6("2001:db8::8", "2001:db8::1");
        other.tcp(40000, 80, kAck);
        EXPECT_EQ(verdict(ack_for(other, family, kClientSeq + 1, cookie + 1)), XDP_DROP)
            << "the cookie of another source";
        auto port = family == 4 ? PacketBuilder().ipv4("198.51.100.7", "192.0.2.1")
                                : PacketBuilder().ipv6("2001:db8::7", "2001:db8::1");
        port.tcp(40001, 80, kAck);
        EXPECT_EQ(verdict(ack_for(port, family, kClientSeq + 1, cookie + 1)), XDP_DROP)
            << "the cookie of another source port";
        EXPECT_EQ(xdpd_reason_total(stats(), XDPD_R_SYNCOOKIE_BAD).packets - xdpd_reason_total(before, XDPD_R_SYNCOOKIE_BAD).packets, 6u);
        EXPECT_EQ(stats().action[XDPD_ACT_DROP].packets - before.action[XDPD_ACT_DROP].packets, 6u);

        // ACKs to unprotected ports are not the stage's business.
        auto free_port = family == 4 ? PacketBuilder().ipv4("198.51.100.7", "192.0.2.1")
                                     : PacketBuilder().ipv6("2001:db8::7", "2001:db8::1");
        free_port.tcp(40000, 22, kAck);
        EXPECT_EQ(verdict(free_port.build()), XDP_PASS);
    }
}

TEST_F(SynCookies, FirewallDecidesFirst) {
    load_with({80}, true);
    fw::RuleSet rs;
    rs.rules.push_back(rule(fw::Action::deny, fw::Match{.src = cidr("198.51.100.0/24")}));
    install(rs);
    EXPECT_EQ(verdict(PacketBuilder().ipv4("198.51.100.7", "192.0.2.1").tcp(1, 80, kSyn).build()), XDP_DROP);
    EXPECT_EQ(verdict(PacketBuilder().ipv4("203.0.113.7", "192.0.2.1").tcp(1, 80, kSyn).build()), XDP_TX);
    EXPECT_EQ(reason_packets(XDPD_R_FW_DENY), 1u);
    EXPECT_EQ(reason_packets(XDPD_R_SYNCOOKIE_SENT), 1u);
}

TEST_F(SynCookies, TooManyPortsAreRefused) {
    bpf::PipelineConfig cfg;
    cfg.syncookie_ports.assign(XDPD_SYNCOOKIE_MAX_PORTS + 1, 80);
    EXPECT_THROW(bpf::Pipeline::load(cfg), std::invalid_argument);
}

// Cost of one SYN -> SYN-ACK. BPF_PROG_TEST_RUN repeats on the same buffer,
// which the first run has turned into a SYN-ACK, so every run is a repeat of 1;
// the stage's cost is its median minus the median of the same SYN through the
// pipeline with the stage off (a PASS), measured the same way.
TEST_F(SynCookies, CostPerSyn) {
    const Bytes syn = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1")
                          .tcp(40000, 80, kSyn, linux_syn_options(1460, 77, 7)).build();
    auto median_ns = [&](const bpf::Pipeline& p, const Bytes& pkt) {
        std::vector<__u32> d;
        for (int i = 0; i < 20000; ++i) d.push_back(bpf::test_run(p.prog_fd(), pkt).duration_ns);
        std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
        return double(d[d.size() / 2]);
    };
    auto off = bpf::Pipeline::load(bpf::PipelineConfig{});
    auto r = bpf::test_run(pipeline_->prog_fd(), syn);
    ASSERT_EQ(r.action, XDP_TX);
    double on_ns = median_ns(*pipeline_, syn), off_ns = median_ns(off, syn);
    // The ACK path is timed directly: it does not change the packet.
    auto ackb = PacketBuilder().ipv4("198.51.100.7", "192.0.2.1");
    ackb.tcp(40000, 80, kAck);
    const Bytes forged = ack_for(ackb, 4, kClientSeq + 1, 12345);
    bpf::TestRunOptions rep{.repeat = 100000};
    double ack_ns = bpf::test_run(pipeline_->prog_fd(), forged, rep).duration_ns;
    double off_ack_ns = bpf::test_run(off.prog_fd(), forged, rep).duration_ns;
    std::printf("[ cost     ] SYN -> SYN-ACK: %.0f ns (stage off: %.0f ns, +%.0f ns), repeat 1, median of 20000\n"
                "[ cost     ] forged ACK (conntrack lookup + cookie check + drop): %.0f ns "
                "(stage off: %.0f ns, +%.0f ns), repeat 100000\n",
                on_ns, off_ns, on_ns - off_ns, ack_ns, off_ack_ns, ack_ns - off_ack_ns);
    RecordProperty("syn_ns", int(on_ns));
    RecordProperty("ack_ns", int(ack_ns));
}

}  // namespace
}  // namespace xdpd::test
