// Parser, in the kernel: every protocol path through the real program, with
// the firewall compiled out and in (default allow, default deny). Each packet
// is checked for its exact verdict, reason, L3 and L4 counter, and that every
// counter family moved by one packet and by the frame length in bytes.
#include <netinet/in.h>

#include <string>

#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;

constexpr uint8_t kGre = 47;

struct Expect {
    __u32 action;
    int reason, l3, l4;
};

std::string show(const Observation& o) {
    return std::string("action ") + std::to_string(o.action) + " reason " + reason_name(o.reason) +
           " l3 " + l3_name(o.l3) + " l4 " + l4_name(o.l4);
}

// Recomputes the IPv4 header checksum after a test edited the header.
void fix_ipv4_checksum(Bytes& b, size_t l3) {
    size_t ihl = (b[l3] & 0xf) * 4;
    if (ihl < 20) ihl = 20;
    b[l3 + 10] = b[l3 + 11] = 0;
    uint16_t c = inet_checksum(&b[l3], ihl);
    b[l3 + 10] = uint8_t(c >> 8);
    b[l3 + 11] = uint8_t(c);
}

Bytes nop_options(size_t n) { return Bytes(n, 0x01); }

// ---- the firewall modes every path is run under --------------------------------

enum class Fw { off, allow, deny };

std::string fw_name(const ::testing::TestParamInfo<Fw>& i) {
    switch (i.param) {
    case Fw::off: return "FirewallOff";
    case Fw::allow: return "DefaultAllow";
    case Fw::deny: return "DefaultDeny";
    }
    return "?";
}

class ParsePaths : public PipelineFixture, public ::testing::WithParamInterface<Fw> {
protected:
    void SetUp() override {
        load({.firewall = GetParam() != Fw::off});
        if (GetParam() == Fw::deny) {
            fw::RuleSet rs;
            rs.default_action = Action::deny;
            install(rs);
        }
    }

    // The verdict of a well-formed IP packet that no rule matches.
    Expect ip(int l3, int l4) const {
        switch (GetParam()) {
        case Fw::off: return {XDP_PASS, XDPD_R_NO_FIREWALL, l3, l4};
        case Fw::allow: return {XDP_PASS, XDPD_R_DEFAULT_ALLOW, l3, l4};
        case Fw::deny: return {XDP_DROP, XDPD_R_DEFAULT_DENY, l3, l4};
        }
        return {};
    }
    // Non-IP frames skip the firewall whatever its policy.
    static Expect non_ip(int l3) { return {XDP_PASS, XDPD_R_NON_IP, l3, XDPD_L4_NONE}; }
    // Malformed frames take the configured malformed action (drop by default),
    // before and whatever the firewall.
    static Expect bad(int reason, int l3 = XDPD_L3_OTHER, int l4 = XDPD_L4_NONE) {
        return {XDP_DROP, reason, l3, l4};
    }

    void check(const Bytes& pkt, Expect e, const std::string& what) {
        SCOPED_TRACE(what);
        Observation o = observe(pkt);
        ASSERT_TRUE(o.ok) << show(o);
        EXPECT_EQ(o.action, e.action) << show(o);
        EXPECT_STREQ(reason_name(o.reason), reason_name(e.reason)) << show(o);
        EXPECT_STREQ(l3_name(o.l3), l3_name(e.l3)) << show(o);
        EXPECT_STREQ(l4_name(o.l4), l4_name(e.l4)) << show(o);
    }
};

INSTANTIATE_TEST_SUITE_P(Modes, ParsePaths, ::testing::Values(Fw::off, Fw::allow, Fw::deny),
                         fw_name);

TEST_P(ParsePaths, NonIpFrames) {
    check(PacketBuilder().ethertype(0x0806).payload(28).build(), non_ip(XDPD_L3_ARP), "arp");
    check(PacketBuilder().ethertype(0x0806).build(), non_ip(XDPD_L3_ARP),
          "Ethernet header only, type ARP (14 bytes)");
    check(PacketBuilder().ethertype(0x88cc).pad_to(60).build(), non_ip(XDPD_L3_OTHER), "LLDP");
    check(PacketBuilder().ethertype(0x88cc).build(), non_ip(XDPD_L3_OTHER),
          "Ethernet header only, type LLDP");
    check(PacketBuilder().vlan(7).ethertype(0x0806).payload(28).build(), non_ip(XDPD_L3_ARP),
          "ARP in a VLAN");
    check(PacketBuilder().vlan(7, 0x88a8).vlan(8).ethertype(0x0806).payload(28).build(),
          non_ip(XDPD_L3_ARP), "ARP in QinQ");
    // An 802.3 length field (< 0x0600) is just another non-IP type.
    check(PacketBuilder().ethertype(0x0026).payload(38).build(), non_ip(XDPD_L3_OTHER), "802.3 LLC");
}

TEST_P(ParsePaths, VlanTags) {
    auto tcp = [](PacketBuilder pb) { return pb.ipv4("10.0.0.1", "10.0.0.2").tcp(1000, 80).build(); };
    check(tcp(PacketBuilder()), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "untagged");
    check(tcp(PacketBuilder().vlan(10)), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "802.1Q");
    check(tcp(PacketBuilder().vlan(10, 0x88a8)), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "single 802.1ad");
    check(tcp(PacketBuilder().vlan(10, 0x88a8).vlan(20)), ip(XDPD_L3_IPV4, XDPD_L4_TCP),
          "802.1ad + 802.1Q");
    check(tcp(PacketBuilder().vlan(10).vlan(20)), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "802.1Q + 802.1Q");
    check(PacketBuilder().vlan(10).vlan(20).ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build(),
          ip(XDPD_L3_IPV6, XDPD_L4_UDP), "IPv6 in QinQ");
    static_assert(XDPD_MAX_VLAN_DEPTH == 2);
    check(tcp(PacketBuilder().vlan(10, 0x88a8).vlan(20).vlan(30)), bad(XDPD_R_VLAN_DEPTH),
          "three tags");
    check(PacketBuilder().vlan(1).vlan(2).vlan(3).ethertype(0x0806).payload(28).build(),
          bad(XDPD_R_VLAN_DEPTH), "three tags, ARP inside");
}

TEST_P(ParsePaths, Ipv4Protocols) {
    auto v4 = [] { return PacketBuilder().ipv4("192.0.2.1", "198.51.100.1"); };
    check(v4().tcp(1, 2).build(), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "tcp");
    check(v4().tcp(1, 2, kSyn, {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2}).build(),
          ip(XDPD_L3_IPV4, XDPD_L4_TCP), "TCP with options");
    check(v4().udp(1, 2).build(), ip(XDPD_L3_IPV4, XDPD_L4_UDP), "udp");
    check(v4().icmp(8).payload(56).build(), ip(XDPD_L3_IPV4, XDPD_L4_ICMP), "icmp");
    check(v4().l4_proto(kGre).payload(24).build(), ip(XDPD_L3_IPV4, XDPD_L4_OTHER), "GRE");
    check(v4().l4_proto(kGre).build(), ip(XDPD_L3_IPV4, XDPD_L4_OTHER), "GRE, no payload");
    check(v4().l4_proto(IPPROTO_SCTP).payload(12).build(), ip(XDPD_L3_IPV4, XDPD_L4_OTHER), "SCTP");
    check(v4().l4_proto(IPPROTO_ICMPV6).payload(8).build(), ip(XDPD_L3_IPV4, XDPD_L4_ICMPV6),
          "ICMPv6 number inside IPv4: parsed as ICMPv6 by number");
}

TEST_P(ParsePaths, Ipv4OptionsEveryIhl) {
    for (int ihl = 5; ihl <= 15; ++ihl) {
        PacketBuilder pb;
        pb.ipv4("10.0.0.1", "10.0.0.2").ip_options(nop_options(4 * (ihl - 5))).udp(53, 53);
        Bytes b = pb.build();
        ASSERT_EQ(b[14] & 0xf, ihl);
        check(b, ip(XDPD_L3_IPV4, XDPD_L4_UDP), "IHL " + std::to_string(ihl));
        // The same with a TCP header: its doff is read at the right offset.
        PacketBuilder pt;
        pt.ipv4("10.0.0.1", "10.0.0.2").ip_options(nop_options(4 * (ihl - 5))).tcp(1, 2);
        check(pt.build(), ip(XDPD_L3_IPV4, XDPD_L4_TCP), "IHL " + std::to_string(ihl) + " TCP");
    }
}

TEST_P(ParsePaths, Ipv4Fragments) {
    auto v4 = [] { return PacketBuilder().ipv4("10.0.0.1", "10.0.0.2"); };
    check(v4().fragment(0, true).tcp(1, 2).payload(100).build(), ip(XDPD_L3_IPV4, XDPD_L4_TCP),
          "first fragment: L4 parsed");
    check(v4().fragment(1480, true).tcp(1, 2).build(), ip(XDPD_L3_IPV4, XDPD_L4_FRAGMENT),
          "middle fragment");
    check(v4().fragment(8, false).udp(1, 2).build(), ip(XDPD_L3_IPV4, XDPD_L4_FRAGMENT),
          "last fragment, smallest offset");
    // A non-first fragment carries no L4 header: even 0 payload bytes are fine.
    check(v4().fragment(65528, false).build(), ip(XDPD_L3_IPV4, XDPD_L4_FRAGMENT),
          "largest offset, no payload");
    // DF (0x4000) and the reserved bit are not fragment bits.
    Bytes df = v4().tcp(1, 2).build();
    df[14 + 6] = 0xc0;
    fix_ipv4_checksum(df, 14);
    check(df, ip(XDPD_L3_IPV4, XDPD_L4_TCP), "DF + reserved bit: not a fragment");
}

TEST_P(ParsePaths, Ipv6Protocols) {
    auto v6 = [] { return PacketBuilder().ipv6("2001:db8::1", "2001:db8::2"); };
    check(v6().tcp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_TCP), "tcp");
    check(v6().tcp(1, 2, kSyn, {2, 4, 5, 0xa0}).build(), ip(XDPD_L3_IPV6, XDPD_L4_TCP),
          "TCP with options");
    check(v6().udp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_UDP), "udp");
    check(v6().icmp(128).build(), ip(XDPD_L3_IPV6, XDPD_L4_ICMPV6), "ICMPv6");
    check(v6().l4_proto(kGre).payload(8).build(), ip(XDPD_L3_IPV6, XDPD_L4_OTHER), "GRE");
    check(v6().l4_proto(IPPROTO_NONE).build(), ip(XDPD_L3_IPV6, XDPD_L4_OTHER), "no next header");
}

TEST_P(ParsePaths, Ipv6ExtensionHeaders) {
    auto v6 = [] { return PacketBuilder().ipv6("2001:db8::1", "2001:db8::2"); };
    check(v6().ipv6_ext(0).udp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_UDP), "hop-by-hop");
    check(v6().ipv6_ext(43, 2).tcp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_TCP), "routing, 24 bytes");
    check(v6().ipv6_ext(60, 255).udp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_UDP),
          "destination options, largest (2048 bytes)");
    check(v6().fragment(0, true).tcp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_TCP),
          "first fragment: L4 parsed");
    check(v6().fragment(1448, true).tcp(1, 2).build(), ip(XDPD_L3_IPV6, XDPD_L4_FRAGMENT),
          "non-first fragment");
    check(v6().fragment(8, false).build(), ip(XDPD_L3_IPV6, XDPD_L4_FRAGMENT),
          "last fragment, no payload");
    check(v6().ipv6_ext(0).ipv6_ext(60).fragment(2048, false).udp(1, 2).build(),
          ip(XDPD_L3_IPV6, XDPD_L4_FRAGMENT), "non-first fragment after two headers");
    check(v6().ipv6_ext(0).ipv6_ext(43).ipv6_ext(60, 1).icmp(129).build(),
          ip(XDPD_L3_IPV6, XDPD_L4_ICMPV6), "three headers, ICMPv6");
}

TEST_P(ParsePaths, Ipv6ExtensionChainDepth) {
    static_assert(XDPD_MAX_IPV6_EXT == 6);
    const uint8_t kinds[] = {0, 43, 60, 44};
    for (int n = 1; n <= XDPD_MAX_IPV6_EXT + 2; ++n) {
        for (int last_frag = 0; last_frag < 2; ++last_frag) {
            PacketBuilder pb;
            pb.ipv6("2001:db8::1", "2001:db8::2");
            int plain = last_frag ? n - 1 : n;
            for (int i = 0; i < plain; ++i) pb.ipv6_ext(kinds[i % 4], uint8_t(i % 3));
            if (last_frag) pb.fragment(0, true);  // a first fragment: L4 still parsed
            pb.udp(1, 2);
            std::string what = std::to_string(n) + " headers" + (last_frag ? ", last a fragment" : "");
            if (n <= XDPD_MAX_IPV6_EXT)
                check(pb.build(), ip(XDPD_L3_IPV6, XDPD_L4_UDP), what);
            else
                check(pb.build(), bad(XDPD_R_IPV6_EXT_DEPTH, XDPD_L3_IPV6), what);
        }
    }
    // A non-first fragment header as the 7th header is one too many as well.
    PacketBuilder pb;
    pb.ipv6("2001:db8::1", "2001:db8::2");
    for (int i = 0; i < XDPD_MAX_IPV6_EXT; ++i) pb.ipv6_ext(60);
    pb.fragment(8, false).udp(1, 2);
    check(pb.build(), bad(XDPD_R_IPV6_EXT_DEPTH, XDPD_L3_IPV6), "7th header a non-first fragment");
    // ... while as the 6th it ends the walk.
    PacketBuilder ok;
    ok.ipv6("2001:db8::1", "2001:db8::2");
    for (int i = 0; i < XDPD_MAX_IPV6_EXT - 1; ++i) ok.ipv6_ext(0);
    ok.fragment(8, false).udp(1, 2);
    check(ok.build(), ip(XDPD_L3_IPV6, XDPD_L4_FRAGMENT), "6th header a non-first fragment");
}

TEST_P(ParsePaths, TcpDataOffsets) {
    for (int doff = 5; doff <= 15; ++doff) {
        Bytes b = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2")
                      .tcp(1, 2, kSyn, nop_options(4 * (doff - 5))).build();
        ASSERT_EQ(b[34 + 12] >> 4, doff);
        check(b, ip(XDPD_L3_IPV4, XDPD_L4_TCP), "doff " + std::to_string(doff));
    }
}

TEST_P(ParsePaths, BadHeaders) {
    const size_t l3 = 14, l4 = 34;
    auto v4 = [] { return PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).payload(20).build(); };
    for (int version : {0, 5, 6, 15}) {
        Bytes b = v4();
        b[l3] = uint8_t(version << 4 | 5);
        fix_ipv4_checksum(b, l3);
        // The L3 counter says OTHER: l3 is only set once the header is valid.
        check(b, bad(XDPD_R_BAD_IPV4, XDPD_L3_IPV4), "IPv4 version " + std::to_string(version));
    }
    for (int ihl = 0; ihl < 5; ++ihl) {
        Bytes b = v4();
        b[l3] = uint8_t(0x40 | ihl);
        check(b, bad(XDPD_R_BAD_IPV4, XDPD_L3_IPV4), "IHL " + std::to_string(ihl));
    }
    for (int tot : {0, 1, 19}) {
        Bytes b = v4();
        b[l3 + 2] = uint8_t(tot >> 8);
        b[l3 + 3] = uint8_t(tot);
        fix_ipv4_checksum(b, l3);
        check(b, bad(XDPD_R_BAD_IPV4, XDPD_L3_IPV4), "total length " + std::to_string(tot));
    }
    {   // total length 23 < IHL 6 * 4
        Bytes b = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").ip_options({1, 1, 1, 1}).udp(1, 2).build();
        b[l3 + 3] = 23;
        b[l3 + 2] = 0;
        fix_ipv4_checksum(b, l3);
        check(b, bad(XDPD_R_BAD_IPV4, XDPD_L3_IPV4), "total length below IHL with options");
        b[l3 + 3] = 24;  // exactly the IP header: the UDP header lies outside the packet
        fix_ipv4_checksum(b, l3);
        check(b, bad(XDPD_R_TRUNC_UDP, XDPD_L3_IPV4), "total length == IHL * 4");
    }
    {   // IHL claims more option bytes than the frame has
        Bytes b = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").l4_proto(kGre).payload(12).build();
        b[l3] = 0x4f;  // 60 bytes of header, 32 in the frame
        b[l3 + 3] = 60;
        check(b, bad(XDPD_R_TRUNC_IPV4, XDPD_L3_IPV4), "IHL 15 past the end of the frame");
    }
    for (int doff = 0; doff < 5; ++doff) {
        Bytes b = v4();
        b[l4 + 12] = uint8_t(doff << 4);
        check(b, bad(XDPD_R_BAD_TCP, XDPD_L3_IPV4), "TCP doff " + std::to_string(doff));
    }
    {
        Bytes b = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).build();  // no payload
        b[l4 + 12] = 6 << 4;  // options past the end
        check(b, bad(XDPD_R_TRUNC_TCP, XDPD_L3_IPV4), "TCP doff 6 past the end of the frame");
    }
    {   // the same through IPv6
        Bytes b = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").tcp(1, 2).payload(8).build();
        b[54 + 12] = 4 << 4;
        check(b, bad(XDPD_R_BAD_TCP, XDPD_L3_IPV6), "IPv6 TCP doff 4");
    }
    for (int version : {0, 4, 7}) {
        Bytes b = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build();
        b[l3] = uint8_t(version << 4);
        check(b, bad(XDPD_R_BAD_IPV6, XDPD_L3_IPV6), "IPv6 version " + std::to_string(version));
    }
    {   // an IPv6 header in an IPv4 frame and the other way round
        Bytes b = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build();
        b[12] = 0x08;
        b[13] = 0x00;
        check(b, bad(XDPD_R_BAD_IPV4, XDPD_L3_IPV4), "IPv6 header, type IPv4");
        Bytes c = v4();
        c[12] = 0x86;
        c[13] = 0xdd;
        check(c, bad(XDPD_R_BAD_IPV6, XDPD_L3_IPV6), "IPv4 header, type IPv6 (74 bytes: a whole IPv6 header)");
    }
}

// ---- malformed verdict: configurable, applied before the firewall ------------

using ParseMalformed = PipelineFixture;

TEST_F(ParseMalformed, MalformedActionPassSkipsTheFirewall) {
    load({.firewall = true, .malformed_action = XDPD_ACT_PASS});
    fw::RuleSet rs;
    rs.default_action = Action::deny;
    install(rs);
    Bytes bad = PacketBuilder().vlan(1).vlan(2).vlan(3).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
    Observation o = observe(bad);
    ASSERT_TRUE(o.ok);
    EXPECT_EQ(o.action, XDP_PASS);
    EXPECT_STREQ(reason_name(o.reason), "vlan_depth");
    Bytes good = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
    o = observe(good);
    EXPECT_EQ(o.action, XDP_DROP);
    EXPECT_STREQ(reason_name(o.reason), "default_deny");
}

// ---- fields the parser extracts, seen through rules that match on them -------

class ParseKey : public PipelineFixture {
protected:
    void SetUp() override { load(); }

    // Installs one deny rule, default allow; expect_hit() then tells them apart.
    void deny_only(Match m) {
        fw::RuleSet rs;
        rs.rules.push_back(rule(Action::deny, std::move(m)));
        install(rs);
    }
    void expect_hit(const Bytes& pkt, bool hit, const std::string& what) {
        SCOPED_TRACE(what);
        Observation o = observe(pkt);
        ASSERT_TRUE(o.ok);
        EXPECT_EQ(o.action, hit ? XDP_DROP : XDP_PASS);
        EXPECT_STREQ(reason_name(o.reason), hit ? "fw_deny" : "default_allow");
    }
};

TEST_F(ParseKey, VlanIdComesFromTheOuterTag) {
    deny_only(Match{.vlan = 100});
    auto pkt = [](PacketBuilder pb) { return pb.ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build(); };
    expect_hit(pkt(PacketBuilder().vlan(100)), true, "802.1Q 100");
    expect_hit(pkt(PacketBuilder().vlan(100, 0x88a8).vlan(200)), true, "outer 100, inner 200");
    expect_hit(pkt(PacketBuilder().vlan(200, 0x88a8).vlan(100)), false, "outer 200, inner 100");
    expect_hit(pkt(PacketBuilder().vlan(0xe000 | 100)), true, "PCP 7 + DEI, id 100");
    expect_hit(pkt(PacketBuilder().vlan(0x1000 | 100)), true, "DEI, id 100");
    expect_hit(pkt(PacketBuilder().vlan(101)), false, "101");
    expect_hit(pkt(PacketBuilder()), false, "untagged");
    deny_only(Match{.vlan = 0});  // 0 = untagged (and priority-tagged frames)
    expect_hit(pkt(PacketBuilder()), true, "untagged vs vlan 0");
    expect_hit(pkt(PacketBuilder().vlan(0x2000)), true, "priority tag, id 0");
    expect_hit(pkt(PacketBuilder().vlan(1)), false, "vlan 1 vs vlan 0");
}

TEST_F(ParseKey, IcmpTypeAndCode) {
    deny_only(Match{.proto = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 4});
    auto icmp = [](uint8_t t, uint8_t c) {
        return PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").icmp(t, c).payload(28).build();
    };
    expect_hit(icmp(3, 4), true, "3/4");
    expect_hit(icmp(3, 3), false, "3/3");
    expect_hit(icmp(4, 3), false, "type and code swapped");
    expect_hit(icmp(11, 4), false, "11/4");
    deny_only(Match{.proto = IPPROTO_ICMPV6, .icmp_type = 135});
    auto icmp6 = [](uint8_t t, uint8_t c) {
        return PacketBuilder().ipv6("fe80::1", "ff02::1").icmp(t, c).payload(16).build();
    };
    expect_hit(icmp6(135, 0), true, "v6 135/0");
    expect_hit(icmp6(135, 9), true, "v6 135/9");
    expect_hit(icmp6(136, 0), false, "v6 136/0");
    expect_hit(PacketBuilder().ipv6("fe80::1", "ff02::1").ipv6_ext(0).icmp(135).build(), true,
               "v6 135 after hop-by-hop");
}

TEST_F(ParseKey, TcpFlagsAndPortsAfterOptions) {
    deny_only(Match{.proto = IPPROTO_TCP, .sport = fw::PortRange{5555, 5555},
                    .dport = fw::PortRange{443, 443},
                    .tcp_flags = fw::TcpFlags::parse("syn,!ack")});
    auto tcp = [](uint8_t flags) {
        return PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").ip_options(nop_options(40))
            .tcp(5555, 443, flags, {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0})
            .build();
    };
    expect_hit(tcp(kSyn), true, "SYN behind IPv4 and TCP options");
    expect_hit(tcp(kSyn | kAck), false, "SYN-ACK");
    expect_hit(tcp(kSyn | kFin | kPsh), true, "SYN+FIN+PSH");
    expect_hit(tcp(kAck), false, "ACK");
    auto v6 = [](uint16_t dport) {
        return PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0, 1).ipv6_ext(43)
            .ipv6_ext(60, 3).fragment(0, true).tcp(5555, dport, kSyn).build();
    };
    expect_hit(v6(443), true, "IPv6, 4 extension headers");
    expect_hit(v6(444), false, "IPv6, 4 extension headers, other port");
}

TEST_F(ParseKey, AddressesAndProtocol) {
    deny_only(Match{.src = cidr("2001:db8:1:2:3:4:5:6"), .dst = cidr("2001:db8::ff"),
                    .proto = IPPROTO_UDP});
    expect_hit(PacketBuilder().ipv6("2001:db8:1:2:3:4:5:6", "2001:db8::ff").udp(1, 2).build(), true,
               "exact v6 pair");
    expect_hit(PacketBuilder().ipv6("2001:db8::ff", "2001:db8:1:2:3:4:5:6").udp(1, 2).build(), false,
               "swapped");
    expect_hit(PacketBuilder().ipv6("2001:db8:1:2:3:4:5:6", "2001:db8::ff").ipv6_ext(60).udp(1, 2).build(),
               true, "after a destination options header: proto from the last next-header");
    deny_only(Match{.src = cidr("192.0.2.1"), .dst = cidr("198.51.100.2"), .proto = kGre});
    expect_hit(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").l4_proto(kGre).payload(8).build(),
               true, "GRE");
    expect_hit(PacketBuilder().ipv4("198.51.100.2", "192.0.2.1").l4_proto(kGre).payload(8).build(),
               false, "GRE swapped");
}

TEST_F(ParseKey, NonFirstFragmentsMatchOnlyL3Rules) {
    auto frag4 = [](uint16_t off) {
        return PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").fragment(off, false).tcp(1234, 22).build();
    };
    auto frag6 = [](uint16_t off) {
        return PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0).fragment(off, false)
            .tcp(1234, 22).build();
    };
    // An L4 rule: the bytes after a non-first fragment's header are payload,
    // not ports; the rule must not match them (the port bytes even say 22).
    // (A non-first fragment's key holds ports 0 and flags 0: "dport 0" and
    // "!syn" would match those zeros if the fragment bit were not in the key.)
    const std::pair<Match, bool> l4_rules[] = {
        {Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}, true},
        {Match{.proto = IPPROTO_TCP, .sport = fw::PortRange{0, 65535}}, true},
        {Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{0, 0}}, false},
        {Match{.sport = fw::PortRange{0, 0}, .dport = fw::PortRange{0, 0}}, false},
        {Match{.tcp_flags = fw::TcpFlags::parse("!syn")}, true}};
    for (const auto& [m, first_hits] : l4_rules) {
        deny_only(m);
        expect_hit(frag4(0), first_hits, "v4 first fragment, " + rule(Action::deny, m).describe());
        expect_hit(frag4(8), false, "v4 non-first fragment, " + rule(Action::deny, m).describe());
        expect_hit(frag6(0), first_hits, "v6 first fragment, " + rule(Action::deny, m).describe());
        expect_hit(frag6(8), false, "v6 non-first fragment, " + rule(Action::deny, m).describe());
    }
    // Pure L3 rules match every fragment.
    for (Match m : {Match{.proto = IPPROTO_TCP}, Match{.family = 4}, Match{.src = cidr("10.0.0.0/8")},
                    Match{.dst = cidr("10.0.0.2/32"), .proto = IPPROTO_TCP}}) {
        deny_only(m);
        expect_hit(frag4(0), true, "first fragment, " + rule(Action::deny, m).describe());
        expect_hit(frag4(1480), true, "non-first fragment, " + rule(Action::deny, m).describe());
    }
    for (Match m : {Match{.proto = IPPROTO_TCP}, Match{.family = 6},
                    Match{.src = cidr("2001:db8::/32"), .proto = IPPROTO_TCP}}) {
        deny_only(m);
        expect_hit(frag6(0), true, "v6 first fragment, " + rule(Action::deny, m).describe());
        expect_hit(frag6(1480), true, "v6 non-first fragment, " + rule(Action::deny, m).describe());
    }
}

TEST_F(ParseKey, CountersSeparateL3AndL4) {
    // Totals over a mix: every family of counters sums to the packets sent, and
    // the bytes of each family sum to the bytes sent.
    std::vector<Bytes> pkts = {
        PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).payload(3).build(),
        PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload(100).build(),
        PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").icmp(128).payload(7).build(),
        PacketBuilder().ethertype(0x0806).payload(28).build(),
        PacketBuilder().vlan(1).vlan(2).vlan(3).ethertype(0x0800).payload(40).build(),
    };
    __u64 bytes = 0;
    for (const auto& p : pkts) {
        bytes += p.size();
        verdict(p);
    }
    xdpd_if_stats s = stats();
    auto sum = [](const xdpd_counter* c, int n) {
        xdpd_counter t{};
        for (int i = 0; i < n; ++i) t.packets += c[i].packets, t.bytes += c[i].bytes;
        return t;
    };
    for (auto t : {sum(s.action, XDPD_ACT_MAX), sum(&s.reason[0][0], XDPD_R_MAX * XDPD_VERDICTS), sum(s.l3, XDPD_L3_MAX),
                   sum(s.l4, XDPD_L4_MAX)}) {
        EXPECT_EQ(t.packets, pkts.size());
        EXPECT_EQ(t.bytes, bytes);
    }
    EXPECT_EQ(s.l3[XDPD_L3_IPV4].packets, 2u);
    EXPECT_EQ(s.l3[XDPD_L3_IPV4].bytes, pkts[0].size() + pkts[1].size());
    EXPECT_EQ(s.l3[XDPD_L3_IPV6].bytes, pkts[2].size());
    EXPECT_EQ(s.l3[XDPD_L3_ARP].bytes, pkts[3].size());
    EXPECT_EQ(s.l3[XDPD_L3_OTHER].bytes, pkts[4].size());
    EXPECT_EQ(s.l4[XDPD_L4_TCP].bytes, pkts[0].size());
    EXPECT_EQ(s.l4[XDPD_L4_UDP].bytes, pkts[1].size());
    EXPECT_EQ(s.l4[XDPD_L4_ICMPV6].bytes, pkts[2].size());
    EXPECT_EQ(s.l4[XDPD_L4_NONE].bytes, pkts[3].size() + pkts[4].size());
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_VLAN_DEPTH).bytes, pkts[4].size());
    EXPECT_EQ(s.action[XDP_DROP].packets, 1u);
}

}  // namespace
}  // namespace xdpd::test

namespace xdpd::test {
namespace {

// A jumbo frame reaches an xdp.frags program in pieces: BPF_PROG_TEST_RUN
// puts one page's worth (minus head- and tailroom) in the linear part and
// the rest in fragments. The parser only reads the linear part; the byte
// counters count the whole frame only with multibuf on.
class Jumbo : public PipelineFixture, public ::testing::WithParamInterface<bool> {};

TEST_P(Jumbo, BytesOfMultiBufferFrames) {
    const bool multibuf = GetParam();
    load({.firewall = true, .multibuf = multibuf});
    for (size_t len : {size_t(1514), size_t(3000), size_t(9000)}) {
        SCOPED_TRACE(std::to_string(len) + " bytes");
        Bytes pkt = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).pad_to(len).build();
        ASSERT_EQ(pkt.size(), len);
        const xdpd_if_stats before = stats();
        ASSERT_EQ(verdict(pkt), XDP_PASS);
        const xdpd_if_stats after = stats();
        const __u64 bytes = xdpd_reason_total(after, XDPD_R_DEFAULT_ALLOW).bytes - xdpd_reason_total(before, XDPD_R_DEFAULT_ALLOW).bytes;
        EXPECT_EQ(after.l4[XDPD_L4_UDP].packets - before.l4[XDPD_L4_UDP].packets, 1u);
        if (multibuf || len <= 3000)
            EXPECT_EQ(bytes, len);
        else  // only the linear part, a page at most
            EXPECT_TRUE(bytes < len && bytes <= 4096 && bytes >= 3000) << bytes;
    }
}

INSTANTIATE_TEST_SUITE_P(Multibuf, Jumbo, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "On" : "Off"; });

}  // namespace
}  // namespace xdpd::test

namespace xdpd::test {
namespace {

// The L4 header must lie inside the IP packet's own length: bytes past it are
// Ethernet padding (or garbage), never ports.
class L4WithinIpLength : public PipelineFixture {
protected:
    void SetUp() override { load({.firewall = false}); }
    static void set16(Bytes& b, size_t off, uint16_t v) {
        b[off] = uint8_t(v >> 8);
        b[off + 1] = uint8_t(v);
    }
};

TEST_F(L4WithinIpLength, Ipv4TotalLengthShortOfTheTcpHeader) {
    auto f = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 80, kSyn).build();
    set16(f, 14 + 2, 20);  // total length: the IP header alone (checksum need not hold for XDP)
    EXPECT_EQ(verdict(f), XDP_DROP);
    EXPECT_EQ(reason_packets(XDPD_R_TRUNC_TCP), 1u);
    set16(f, 14 + 2, 39);  // one byte short
    EXPECT_EQ(verdict(f), XDP_DROP);
    EXPECT_EQ(reason_packets(XDPD_R_TRUNC_TCP), 2u);
    set16(f, 14 + 2, 40);
    EXPECT_EQ(verdict(f), XDP_PASS);
}

TEST_F(L4WithinIpLength, ShortIpv4UdpInAPaddedFrameIsStillUdp) {
    // A 28-byte UDP/IPv4 packet padded to the 60-byte Ethernet minimum parses fine.
    auto f = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 53).build();
    f.resize(60, 0);
    EXPECT_EQ(verdict(f), XDP_PASS);
    EXPECT_EQ(stats().l4[XDPD_L4_UDP].packets, 1u);
}

TEST_F(L4WithinIpLength, Ipv6PayloadLengthShortOfTheUdpHeaderAndJumbograms) {
    auto f = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 53).build();
    set16(f, 14 + 4, 4);  // payload length: half a UDP header
    EXPECT_EQ(verdict(f), XDP_DROP);
    EXPECT_EQ(reason_packets(XDPD_R_TRUNC_UDP), 1u);
    set16(f, 14 + 4, 0);  // a jumbogram's 0: the header sets no limit
    EXPECT_EQ(verdict(f), XDP_PASS);
}

}  // namespace
}  // namespace xdpd::test
