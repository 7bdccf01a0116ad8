// Firewall rule fields, in the kernel: every field alone and combined, rule
// order, default policy, monitor mode, count rules, the atomic swap and the
// compile errors. Each packet's outcome is checked against the reference
// classifier too, so the expectations written here and the reference agree.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <thread>

#include "support/bpf_fixture.hpp"
#include "support/reference_classifier.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;
using fw::PortRange;

constexpr uint8_t kGre = 47;

std::array<uint8_t, 16> a4(uint32_t host_order) {
    std::array<uint8_t, 16> a{};
    a[0] = uint8_t(host_order >> 24), a[1] = uint8_t(host_order >> 16);
    a[2] = uint8_t(host_order >> 8), a[3] = uint8_t(host_order);
    return a;
}
std::array<uint8_t, 16> a4(const char* text) {
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET, text, a.data());
    return a;
}
using u128 = unsigned __int128;
std::array<uint8_t, 16> a6(u128 v) {
    std::array<uint8_t, 16> a{};
    for (int i = 15; i >= 0; --i, v >>= 8) a[i] = uint8_t(v);
    return a;
}
u128 v6(const char* text) {
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET6, text, a.data());
    u128 v = 0;
    for (uint8_t b : a) v = v << 8 | b;
    return v;
}

PacketFields tcp4(const char* src = "10.0.0.1", const char* dst = "10.0.0.2", uint16_t sport = 40000,
                  uint16_t dport = 80, uint8_t flags = kAck) {
    PacketFields p;
    p.family = 4;
    p.src = a4(src);
    p.dst = a4(dst);
    p.proto = IPPROTO_TCP;
    p.sport = sport, p.dport = dport, p.tcp_flags = flags;
    p.ifindex = 1;
    return p;
}
PacketFields with_proto(PacketFields p, uint8_t proto, uint16_t sport = 0, uint16_t dport = 0) {
    p.proto = proto, p.sport = sport, p.dport = dport;
    p.tcp_flags = proto == IPPROTO_TCP ? p.tcp_flags : 0;
    return p;
}
PacketFields tcp6(u128 src = v6("2001:db8::1"), u128 dst = v6("2001:db8::2")) {
    PacketFields p = tcp4();
    p.family = 6;
    p.src = a6(src);
    p.dst = a6(dst);
    return p;
}

class FirewallFields : public PipelineFixture {
protected:
    void SetUp() override { load(); }

    // One rule set: `m` denies, the default allows.
    void only(const Match& m) {
        rs_ = {};
        rs_.rules.push_back(rule(Action::deny, m));
        install(rs_);
    }
    void use(const fw::RuleSet& rs) {
        rs_ = rs;
        install(rs_);
    }

    // Runs p; checks verdict and reason against what the reference says, and
    // that the reference decides `expect_rule` (-1: default).
    void expect(const PacketFields& p, int expect_rule, const std::string& what = "",
                uint16_t inner_vlan = 0) {
        SCOPED_TRACE(what + " [" + describe(p) + "]");
        const PacketFields n = normalized(p);
        const int ref = first_match(rs_, n);
        ASSERT_EQ(ref, expect_rule) << "the reference classifier disagrees with the test";
        Observation o = observe(frame_of(p, inner_vlan), p.ifindex);
        ASSERT_TRUE(o.ok);
        int want_reason;
        __u32 want_action;
        if (ref < 0) {
            bool deny = rs_.default_action == Action::deny;
            want_reason = deny ? (monitor_ ? XDPD_R_DEFAULT_MONITOR : XDPD_R_DEFAULT_DENY)
                               : XDPD_R_DEFAULT_ALLOW;
            want_action = deny && !monitor_ ? XDP_DROP : XDP_PASS;
        } else {
            bool deny = rs_.rules[ref].action == Action::deny;
            want_reason = deny ? (monitor_ ? XDPD_R_FW_MONITOR : XDPD_R_FW_DENY) : XDPD_R_FW_ALLOW;
            want_action = deny && !monitor_ ? XDP_DROP : XDP_PASS;
        }
        EXPECT_EQ(o.action, want_action);
        EXPECT_STREQ(reason_name(o.reason), reason_name(want_reason));
    }
    void hit(const PacketFields& p, const std::string& what = "") { expect(p, 0, what); }
    void miss(const PacketFields& p, const std::string& what = "") { expect(p, -1, what); }

    fw::RuleSet rs_;
    bool monitor_ = false;
};

// ---- addresses --------------------------------------------------------------

TEST_F(FirewallFields, Ipv4PrefixesSrcAndDst) {
    const uint32_t base = 0xac147b2d;  // 172.20.123.45
    for (int plen : {0, 1, 8, 13, 24, 31, 32}) {
        const uint32_t mask = plen ? ~0u << (32 - plen) : 0, net = base & mask, last = net | ~mask;
        fw::Cidr c;
        c.family = 4;
        c.prefix = plen;
        c.addr = a4(net);
        for (bool dst : {false, true}) {
            only(dst ? Match{.dst = c} : Match{.src = c});
            const std::string what = (dst ? "dst " : "src ") + c.str();
            auto pkt = [&](uint32_t a) {
                PacketFields p = tcp4("192.0.2.200", "192.0.2.201");
                (dst ? p.dst : p.src) = a4(a);
                return p;
            };
            hit(pkt(net), what + ": first address");
            hit(pkt(last), what + ": last address");
            hit(pkt(net + (last - net) / 2), what + ": middle");
            if (net > 0) miss(pkt(net - 1), what + ": one below");
            if (last < 0xffffffffu) miss(pkt(last + 1), what + ": one above");
            if (plen > 0) miss(pkt(net ^ (1u << (32 - plen))), what + ": last prefix bit flipped");
            // The other address field is not looked at.
            PacketFields other = tcp4();
            (dst ? other.src : other.dst) = a4(net);
            (dst ? other.dst : other.src) = a4(plen ? net ^ (1u << (32 - plen)) : net);
            expect(other, plen ? -1 : 0, what + ": address in the other field");
            // An IPv4 prefix never matches IPv6, not even /0.
            miss(tcp6(), what + ": IPv6 packet");
        }
    }
}

TEST_F(FirewallFields, Ipv6PrefixesSrcAndDst) {
    const u128 base = v6("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ff5d");
    for (int plen : {0, 1, 32, 48, 63, 64, 65, 127, 128}) {
        const u128 all = ~u128(0);
        const u128 mask = plen ? all << (128 - plen) : 0, net = base & mask, last = net | ~mask;
        fw::Cidr c;
        c.family = 6;
        c.prefix = plen;
        c.addr = a6(net);
        for (bool dst : {false, true}) {
            only(dst ? Match{.dst = c} : Match{.src = c});
            const std::string what = (dst ? "dst " : "src ") + c.str();
            auto pkt = [&](u128 a) {
                PacketFields p = tcp6(v6("2001:db8::7"), v6("2001:db8::8"));
                (dst ? p.dst : p.src) = a6(a);
                return p;
            };
            hit(pkt(net), what + ": first address");
            hit(pkt(last), what + ": last address");
            hit(pkt(net + (last - net) / 3), what + ": inside");
            if (net > 0) miss(pkt(net - 1), what + ": one below");
            if (last < all) miss(pkt(last + 1), what + ": one above");
            if (plen > 0) miss(pkt(net ^ (u128(1) << (128 - plen))), what + ": last prefix bit flipped");
            miss(tcp4(), what + ": IPv4 packet");
        }
    }
}

TEST_F(FirewallFields, SrcAndDstTogether) {
    only(Match{.src = cidr("10.0.0.0/8"), .dst = cidr("192.168.1.0/24")});
    hit(tcp4("10.9.9.9", "192.168.1.77"));
    miss(tcp4("11.9.9.9", "192.168.1.77"), "src outside");
    miss(tcp4("10.9.9.9", "192.168.2.77"), "dst outside");
    miss(tcp4("192.168.1.77", "10.9.9.9"), "swapped");
}

// ---- protocol, family ----------------------------------------------------------

TEST_F(FirewallFields, Protocol) {
    only(Match{.proto = IPPROTO_UDP});
    hit(with_proto(tcp4(), IPPROTO_UDP, 1, 2), "udp");
    hit(with_proto(tcp6(), IPPROTO_UDP, 1, 2), "udp over IPv6");
    miss(tcp4(), "tcp");
    miss(with_proto(tcp4(), IPPROTO_ICMP, 8, 0), "icmp");
    miss(with_proto(tcp4(), kGre), "gre");
    only(Match{.proto = kGre});
    hit(with_proto(tcp4(), kGre), "gre");
    hit(with_proto(tcp6(), kGre), "gre over IPv6");
    miss(with_proto(tcp4(), IPPROTO_UDP, 47, 47), "udp");
    only(Match{.proto = IPPROTO_ICMP});  // implies IPv4
    hit(with_proto(tcp4(), IPPROTO_ICMP, 8, 0));
    miss(with_proto(tcp6(), IPPROTO_ICMPV6, 128, 0), "icmpv6");
    only(Match{.proto = IPPROTO_ICMPV6});  // implies IPv6
    hit(with_proto(tcp6(), IPPROTO_ICMPV6, 128, 0));
    miss(with_proto(tcp4(), IPPROTO_ICMP, 8, 0), "icmp");
}

TEST_F(FirewallFields, FamilyOnly) {
    only(Match{.family = 4});
    hit(tcp4());
    hit(with_proto(tcp4(), kGre), "any protocol");
    miss(tcp6());
    only(Match{.family = 6});
    hit(tcp6());
    hit(with_proto(tcp6(), IPPROTO_ICMPV6, 1, 0));
    miss(tcp4());
    only(Match{.family = 6, .proto = IPPROTO_TCP});
    hit(tcp6());
    miss(tcp4(), "tcp over IPv4");
}

// ---- ports ----------------------------------------------------------------------

TEST_F(FirewallFields, PortsExactAndRangesAtTheirBoundaries) {
    const PortRange ranges[] = {{22, 22}, {0, 0}, {65535, 65535}, {1000, 2999}, {1, 65534},
                                {1024, 65535}, {0, 1023}, {31337, 40000}, {8080, 8081}, {0, 65535}};
    for (uint8_t proto : {uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP)}) {
        for (const PortRange& r : ranges) {
            for (bool dst : {false, true}) {
                Match m{.proto = proto};
                (dst ? m.dport : m.sport) = r;
                only(m);
                const std::string what = rule(Action::deny, m).describe();
                std::vector<int> ports = {r.lo - 1, r.lo, r.lo + 1, (r.lo + r.hi) / 2, r.hi - 1, r.hi,
                                          r.hi + 1, 0, 65535};
                for (int port : ports) {
                    if (port < 0 || port > 65535) continue;
                    PacketFields p = with_proto(tcp4(), proto, 5555, 5555);
                    (dst ? p.dport : p.sport) = uint16_t(port);
                    expect(p, r.contains(uint16_t(port)) ? 0 : -1, what + " port " + std::to_string(port));
                }
            }
        }
    }
}

TEST_F(FirewallFields, SportAndDportRangesTogether) {
    only(Match{.proto = IPPROTO_TCP, .sport = PortRange{1024, 65535}, .dport = PortRange{20, 23}});
    for (int s : {1023, 1024, 1025, 65535})
        for (int d : {19, 20, 21, 22, 23, 24}) {
            bool in = s >= 1024 && d >= 20 && d <= 23;
            expect(tcp4("10.0.0.1", "10.0.0.2", uint16_t(s), uint16_t(d)), in ? 0 : -1,
                   "sport " + std::to_string(s) + " dport " + std::to_string(d));
        }
}

// ---- TCP flags, ICMP -----------------------------------------------------------

TEST_F(FirewallFields, TcpFlagsValueAndMask) {
    {
        only(Match{.proto = IPPROTO_TCP, .tcp_flags = fw::TcpFlags::parse("syn,!ack")});
        hit(tcp4("10.0.0.1", "10.0.0.2", 1, 2, kSyn), "SYN");
        miss(tcp4("10.0.0.1", "10.0.0.2", 1, 2, kSyn | kAck), "SYN-ACK");
        miss(tcp4("10.0.0.1", "10.0.0.2", 1, 2, kAck), "ACK");
        hit(tcp4("10.0.0.1", "10.0.0.2", 1, 2, kSyn | kFin), "SYN-FIN");
    }
    // Every flag byte against a few masks: the reference decides, the data
    // plane must agree (expect() checks both).
    for (const char* spec : {"syn,!ack", "rst", "fin|psh|!rst", "!syn", "cwr,ece,urg,ack,psh,rst,syn,fin",
                             "!fin,!syn,!rst,!psh,!ack,!urg,!ece,!cwr"}) {
        auto f = fw::TcpFlags::parse(spec);
        ASSERT_TRUE(f) << spec;
        only(Match{.proto = IPPROTO_TCP, .tcp_flags = f});
        for (int flags = 0; flags < 256; ++flags) {
            bool in = (flags & f->mask) == f->value;
            expect(tcp4("10.0.0.1", "10.0.0.2", 1, 2, uint8_t(flags)), in ? 0 : -1,
                   std::string(spec) + " flags " + std::to_string(flags));
        }
    }
}

TEST_F(FirewallFields, IcmpTypeAndCode) {
    auto icmp = [](int t, int c) { return with_proto(tcp4(), IPPROTO_ICMP, uint16_t(t), uint16_t(c)); };
    only(Match{.proto = IPPROTO_ICMP, .icmp_type = 8});
    for (int t = 0; t < 256; ++t) expect(icmp(t, 0), t == 8 ? 0 : -1, "type " + std::to_string(t));
    hit(icmp(8, 255), "type 8 any code");
    only(Match{.proto = IPPROTO_ICMP, .icmp_code = 3});
    for (int c = 0; c < 256; ++c) expect(icmp(3, c), c == 3 ? 0 : -1, "code " + std::to_string(c));
    only(Match{.proto = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 13});
    hit(icmp(3, 13));
    miss(icmp(3, 12));
    miss(icmp(13, 3));
    miss(icmp(4, 13));
    auto icmp6 = [](int t, int c) { return with_proto(tcp6(), IPPROTO_ICMPV6, uint16_t(t), uint16_t(c)); };
    only(Match{.proto = IPPROTO_ICMPV6, .icmp_type = 128, .icmp_code = 0});
    hit(icmp6(128, 0));
    miss(icmp6(129, 0));
    miss(icmp6(128, 1));
    miss(icmp(128, 0), "ICMPv4 with the same numbers");
}

// ---- VLAN, ingress interface -------------------------------------------------

TEST_F(FirewallFields, Vlan) {
    for (uint16_t id : {uint16_t(0), uint16_t(1), uint16_t(100), uint16_t(4095)}) {
        only(Match{.vlan = id});
        for (uint16_t pkt_vlan : {uint16_t(0), uint16_t(1), uint16_t(99), uint16_t(100), uint16_t(101),
                                  uint16_t(4094), uint16_t(4095)}) {
            PacketFields p = tcp4();
            p.vlan = pkt_vlan;
            expect(p, pkt_vlan == id ? 0 : -1,
                   "rule vlan " + std::to_string(id) + ", packet vlan " + std::to_string(pkt_vlan));
            p.vlan = uint16_t(pkt_vlan | 0xa000);  // PCP bits set: still the same id
            if (pkt_vlan) expect(p, pkt_vlan == id ? 0 : -1, "with PCP bits");
        }
        // QinQ: the outer id counts, whatever the inner.
        PacketFields q = tcp4();
        q.vlan = id ? id : 7;
        expect(q, id ? 0 : -1, "QinQ outer", 42);
        q.vlan = 42;
        expect(q, id == 42 ? 0 : -1, "QinQ inner only", id ? id : 7);
    }
}

class FirewallIfindex : public FirewallFields {
protected:
    void SetUp() override {
        FirewallFields::SetUp();
        dev_ = std::make_unique<TestNetdev>();
    }
    void TearDown() override { dev_.reset(); }
    std::unique_ptr<TestNetdev> dev_;
};

TEST_F(FirewallIfindex, IngressInterface) {
    const __u32 dev = dev_->ifindex();
    ASSERT_GT(dev, 1u) << dev_->kind();
    PacketFields on_dev = tcp4(), on_lo = tcp4();
    on_dev.ifindex = dev;
    on_lo.ifindex = 1;
    only(Match{.ifindex = dev});
    hit(on_dev, "on the test device (" + dev_->kind() + ")");
    miss(on_lo, "on loopback");
    // No context at all: the kernel runs the program as if on loopback.
    EXPECT_EQ(verdict(frame_of(on_dev)), XDP_PASS);
    only(Match{.ifindex = 1});
    hit(on_lo, "loopback");
    miss(on_dev, "test device");
    EXPECT_EQ(verdict(frame_of(on_dev)), XDP_DROP) << "no context: ingress is loopback";
    // Combined with other fields.
    only(Match{.src = cidr("10.0.0.0/24"), .proto = IPPROTO_TCP, .dport = PortRange{80, 80}, .ifindex = dev});
    hit(on_dev);
    miss(on_lo);
    PacketFields other = on_dev;
    other.dport = 81;
    miss(other);
}

// ---- all fields at once ---------------------------------------------------------

TEST_F(FirewallIfindex, EveryFieldCombinedIsAnAnd) {
    const __u32 dev = dev_->ifindex();
    Match m{.family = 4,
            .src = cidr("10.1.0.0/16"),
            .dst = cidr("192.0.2.0/27"),
            .proto = IPPROTO_TCP,
            .sport = PortRange{1024, 65535},
            .dport = PortRange{443, 443},
            .tcp_flags = fw::TcpFlags::parse("syn,!ack"),
            .vlan = 300,
            .ifindex = dev};
    only(m);
    PacketFields good = tcp4("10.1.200.3", "192.0.2.30", 50000, 443, kSyn);
    good.vlan = 300;
    good.ifindex = dev;
    hit(good, "all fields match");
    auto one_off = [&](const char* field, auto change) {
        PacketFields p = good;
        change(p);
        miss(p, std::string("only ") + field + " differs");
    };
    one_off("family", [](PacketFields& p) { p.family = 6; });
    one_off("src", [](PacketFields& p) { p.src = a4("10.2.200.3"); });
    one_off("dst", [](PacketFields& p) { p.dst = a4("192.0.2.32"); });
    one_off("proto", [](PacketFields& p) { p.proto = IPPROTO_UDP, p.tcp_flags = 0; });
    one_off("sport", [](PacketFields& p) { p.sport = 1023; });
    one_off("dport", [](PacketFields& p) { p.dport = 444; });
    one_off("flags", [](PacketFields& p) { p.tcp_flags = kSyn | kAck; });
    one_off("vlan", [](PacketFields& p) { p.vlan = 301; });
    one_off("untagged", [](PacketFields& p) { p.vlan = 0; });
    one_off("ifindex", [](PacketFields& p) { p.ifindex = 1; });
    one_off("fragment", [](PacketFields& p) { p.fragment = true; });
    // The same rule without its L4 fields matches the fragment.
    only(Match{.src = m.src, .dst = m.dst, .proto = m.proto, .vlan = m.vlan, .ifindex = dev});
    PacketFields frag = good;
    frag.fragment = true;
    hit(frag, "L3-only rule vs non-first fragment");
}

// ---- order, default, monitor ----------------------------------------------------

TEST_F(FirewallFields, FirstMatchWins) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}));
    rs.rules.push_back(rule(Action::deny, Match{.dst = cidr("10.0.0.0/8")}));
    rs.rules.push_back(rule(Action::allow, Match{.dst = cidr("10.0.0.2/32")}));
    rs.default_action = Action::deny;
    use(rs);
    auto rep = install(rs);
    // Rule 1 repeats rule 0: reported as never reached. Rule 3 is reachable by
    // its own entry (only /8 covers it, in another shape) - not detected.
    ASSERT_GE(rep.warnings.size(), 1u);
    EXPECT_NE(rep.warnings[0].find("never reached"), std::string::npos) << rep.warnings[0];
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 22), 0, "allow before an identical deny");
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 23), 2, "/8 deny before /32 allow");
    expect(tcp4("10.0.0.1", "11.0.0.2", 1, 23), -1, "default deny");
    // The other way round.
    std::reverse(rs.rules.begin(), rs.rules.end());
    use(rs);
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 22), 0, "/32 allow first");
    expect(tcp4("10.0.0.1", "10.0.0.3", 1, 22), 1, "/8 deny before the port rules");
    expect(tcp4("10.0.0.1", "11.0.0.3", 1, 22), 2, "port deny before port allow");
}

TEST_F(FirewallFields, DefaultPolicy) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{23, 23}}));
    for (Action def : {Action::allow, Action::deny}) {
        rs.default_action = def;
        use(rs);
        expect(with_proto(tcp4(), IPPROTO_UDP, 1, 2), 0, "allow rule");
        expect(tcp4("10.0.0.1", "10.0.0.2", 1, 23), 1, "deny rule");
        expect(tcp4(), -1, "default");
        expect(with_proto(tcp6(), kGre), -1, "default, IPv6");
    }
}

TEST_F(FirewallFields, MonitorMode) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{23, 23}}));
    rs.default_action = Action::deny;
    use(rs);
    installer().set_monitor(true);
    monitor_ = true;
    ASSERT_TRUE(installer().monitor());
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 23), 1, "rule deny -> FW_MONITOR, passed");
    expect(tcp4(), -1, "default deny -> DEFAULT_MONITOR, passed");
    expect(with_proto(tcp4(), IPPROTO_UDP, 1, 2), 0, "allow is still FW_ALLOW");
    auto c = installer().counters();
    EXPECT_EQ(c[0].total.packets, 1u);
    EXPECT_EQ(c[1].total.packets, 1u) << "deny rules count in monitor mode";
    // Monitor mode survives a reload, and switching it off enforces again.
    use(rs);
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 23), 1, "monitor after reload");
    installer().set_monitor(false);
    monitor_ = false;
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 23), 1, "enforced");
    expect(tcp4(), -1, "default enforced");
    xdpd_if_stats s = stats();
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_FW_MONITOR).packets, 2u);
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_DEFAULT_MONITOR).packets, 1u);
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_FW_DENY).packets, 1u);
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_DEFAULT_DENY).packets, 1u);
}

// ---- count rules ----------------------------------------------------------------

TEST_F(FirewallFields, CountRules) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_TCP}, "c-tcp"));
    rs.rules.push_back(rule(Action::count, Match{.dst = cidr("10.0.0.0/8")}, "c-10"));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "d-22"));
    rs.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "c-22"));
    rs.rules.push_back(rule(Action::allow, Match{.family = 4}, "a-v4"));
    rs.rules.push_back(rule(Action::count, Match{.family = 6}, "c-v6"));
    use(rs);
    const Bytes p22 = frame_of(tcp4("10.0.0.1", "10.0.0.2", 1, 22));
    const Bytes p80 = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 80).payload(10).build();
    const Bytes pudp = PacketBuilder().ipv4("10.0.0.1", "11.0.0.2").udp(1, 2).build();
    const Bytes p6 = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build();
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 22), 2, "denied port");
    EXPECT_EQ(verdict(p80), XDP_PASS);
    EXPECT_EQ(verdict(pudp), XDP_PASS);
    EXPECT_EQ(verdict(p6), XDP_PASS);
    auto c = installer().counters();
    ASSERT_EQ(c.size(), 6u);
    EXPECT_EQ(c[0].total.packets, 2u);  // both TCP packets
    EXPECT_EQ(c[0].total.bytes, p22.size() + p80.size());
    EXPECT_EQ(c[1].total.packets, 2u);  // both to 10/8 (UDP goes to 11/8)
    EXPECT_EQ(c[2].total.packets, 1u);
    EXPECT_EQ(c[2].total.bytes, p22.size());
    EXPECT_EQ(c[3].total.packets, 0u);  // after the deny that decides the same packets
    EXPECT_EQ(c[4].total.packets, 2u);  // p80 and the UDP one
    EXPECT_EQ(c[4].total.bytes, p80.size() + pudp.size());
    EXPECT_EQ(c[5].total.packets, 1u);  // default path: counted
    EXPECT_EQ(c[5].total.bytes, p6.size());
    // The reference agrees.
    EXPECT_EQ(classify(rs, normalized(tcp4("10.0.0.1", "10.0.0.2", 1, 22))).counted, (std::vector<int>{0, 1}));
}

TEST_F(FirewallFields, CountRuleBehindTheDecidingRuleDoesNotCount) {
    // Rule 2 shares its shape (dst /32) with rule 0, so its tuple is scanned
    // before the deny's (tuples go by their best rule): the data plane sees the
    // count entry first and must still leave it out, as it comes after the
    // deny that decides the packet.
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::count, Match{.dst = cidr("10.9.9.9/32")}, "c0"));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "d1"));
    rs.rules.push_back(rule(Action::count, Match{.dst = cidr("10.0.0.2/32")}, "c2"));
    rs.rules.push_back(rule(Action::allow, Match{.dst = cidr("10.0.0.3/32")}, "a3"));
    rs.rules.push_back(rule(Action::count, Match{.dst = cidr("10.0.0.3/32")}, "c4"));
    use(rs);
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 22), 1, "denied: c2 comes after");
    expect(tcp4("10.0.0.1", "10.0.0.2", 1, 80), -1, "default: c2 counts");
    expect(tcp4("10.0.0.1", "10.0.0.3", 1, 80), 3, "allowed by a3: c4 after it (same entry)");
    expect(tcp4("10.0.0.1", "10.9.9.9", 1, 22), 1, "c0 before the deny counts");
    auto c = installer().counters();
    EXPECT_EQ(c[0].total.packets, 1u);
    EXPECT_EQ(c[1].total.packets, 2u);
    EXPECT_EQ(c[2].total.packets, 1u);
    EXPECT_EQ(c[3].total.packets, 1u);
    EXPECT_EQ(c[4].total.packets, 0u);
}

TEST_F(FirewallFields, CountChainLimit) {
    static_assert(XDPD_FW_COUNT_CHAIN == 4);
    // Five count rules with the same match share one classifier entry, which
    // remembers 4: the compiler warns, the fifth never counts.
    fw::RuleSet same;
    for (int i = 0; i < 5; ++i)
        same.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_UDP}, "same" + std::to_string(i)));
    use(same);
    auto rep = install(same);
    bool warned = false;
    for (auto& w : rep.warnings) warned |= w.find("overlaps more than 4") != std::string::npos;
    EXPECT_TRUE(warned);
    verdict(frame_of(with_proto(tcp4(), IPPROTO_UDP, 1, 2)));
    auto c = installer().counters();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c[i].total.packets, i < 4 ? 1u : 0u) << "rule " << i;

    // Five count rules in five shapes: the data plane remembers at most 4 count
    // matches per packet, in tuple order (= rule order here). No warning for
    // this one: a packet-level limit the compiler cannot see.
    fw::RuleSet shapes;
    shapes.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_UDP}, "s0"));
    shapes.rules.push_back(rule(Action::count, Match{.src = cidr("10.0.0.0/8")}, "s1"));
    shapes.rules.push_back(rule(Action::count, Match{.dst = cidr("10.0.0.0/16")}, "s2"));
    shapes.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_UDP, .dport = PortRange{2, 2}}, "s3"));
    shapes.rules.push_back(rule(Action::count, Match{.family = 4}, "s4"));
    use(shapes);
    verdict(frame_of(with_proto(tcp4(), IPPROTO_UDP, 1, 2)));
    c = installer().counters();
    EXPECT_EQ(classify(shapes, normalized(with_proto(tcp4(), IPPROTO_UDP, 1, 2))).counted.size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c[i].total.packets, i < 4 ? 1u : 0u) << "rule " << i;
}

// ---- atomic swap, compile errors ---------------------------------------------------

TEST_F(FirewallFields, SwapReplacesTheWholeRuleSet) {
    fw::RuleSet a, b;
    a.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "a0"));
    a.rules.push_back(rule(Action::allow, Match{.src = cidr("10.0.0.0/8")}, "a1"));
    a.default_action = Action::deny;
    b.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "b0"));
    b.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP}, "b1"));
    b.default_action = Action::allow;
    const PacketFields ssh = tcp4("10.0.0.1", "10.0.0.2", 1, 22), web = tcp4("10.0.0.1", "10.0.0.2", 1, 80),
                       other = tcp4("11.0.0.1", "10.0.0.2", 1, 80),
                       udp = with_proto(tcp4("10.0.0.1", "10.0.0.2"), IPPROTO_UDP, 1, 2);
    bpf::Map<xdpd_fw_key, xdpd_fw_entry> entries(maps_.entries);
    for (int round = 0; round < 3; ++round) {
        use(a);
        const __u32 ga = installer().active_generation();
        expect(ssh, 0, "a: ssh denied");
        expect(web, 1, "a: 10/8 allowed");
        expect(other, -1, "a: default deny");
        expect(udp, 1, "a: udp from 10/8 allowed");
        for (const auto& k : entries.keys()) EXPECT_EQ(k.tuple >> 15, ga) << "stale entry of the old generation";
        use(b);
        const __u32 gb = installer().active_generation();
        EXPECT_EQ(gb, ga ^ 1);
        expect(ssh, 0, "b: ssh allowed");
        expect(web, -1, "b: default allow");
        expect(other, -1, "b: default allow");
        expect(udp, 1, "b: udp denied");
        for (const auto& k : entries.keys()) EXPECT_EQ(k.tuple >> 15, gb) << "stale entry of the old generation";
    }
    // Removing every rule: only the default is left.
    fw::RuleSet none;
    none.default_action = Action::deny;
    use(none);
    expect(ssh, -1, "empty rule set");
    EXPECT_TRUE(entries.keys().empty());
}

TEST_F(FirewallFields, SwapUnderTrafficNeverMixesGenerations) {
    // Rule set A denies the probe by a rule (FW_DENY), B allows it by a rule
    // (FW_ALLOW), both with the opposite default. A packet classified against
    // a half-installed or half-cleared rule set would fall to a default.
    const PacketFields probe = tcp4("10.0.0.1", "10.0.0.2", 1, 22);
    fw::RuleSet a, b;
    a.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_UDP}, "a-udp"));
    a.rules.push_back(rule(Action::deny, Match{.src = cidr("10.0.0.0/8"), .proto = IPPROTO_TCP}, "a"));
    a.default_action = Action::allow;
    b.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP}, "b-udp"));
    b.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_TCP, .dport = PortRange{0, 1023}}, "b"));
    b.default_action = Action::deny;
    install(a);
    const Bytes frame = frame_of(probe);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> sent{0}, bad{0};
    std::thread traffic([&] {
        while (!stop.load()) {
            __u32 act = 0;
            if (try_run(frame, 1, &act) != 0 || (act != XDP_PASS && act != XDP_DROP)) ++bad;
            ++sent;
        }
    });
    for (int i = 0; i < 40; ++i) install(i % 2 ? a : b);
    stop = true;
    traffic.join();
    EXPECT_EQ(bad.load(), 0u);
    xdpd_if_stats s = stats();
    EXPECT_GT(sent.load(), 0u);
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_FW_DENY).packets + xdpd_reason_total(s, XDPD_R_FW_ALLOW).packets, sent.load());
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_DEFAULT_ALLOW).packets, 0u);
    EXPECT_EQ(xdpd_reason_total(s, XDPD_R_DEFAULT_DENY).packets, 0u);
    EXPECT_EQ(s.action[XDP_DROP].packets, xdpd_reason_total(s, XDPD_R_FW_DENY).packets);
}

TEST_F(FirewallFields, NewRuleCountersStartAtZeroUnderTraffic) {
    // The old rule keeps matching traffic until the swap; the new rule (which
    // matches none of it) must not inherit any of those hits, even if it is
    // given the counter slot the old rule is leaving.
    const Bytes udp = frame_of(with_proto(tcp4(), IPPROTO_UDP, 1, 2));
    for (int round = 0; round < 5; ++round) {
        fw::RuleSet a, b;
        a.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP}, "old" + std::to_string(round)));
        b.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP}, "new" + std::to_string(round)));
        install(a);
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> sent{0};
        std::thread traffic([&] {
            while (!stop.load()) {
                try_run(udp, 1, nullptr);
                ++sent;
            }
        });
        while (sent.load() < 100) std::this_thread::yield();
        install(b);
        stop = true;
        traffic.join();
        auto c = installer().counters();
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0].total.packets, 0u) << "round " << round << ": slot " << c[0].slot
                                         << " carried hits of the rule it replaced";
    }
}

TEST_F(FirewallFields, TooManyShapesIsRefusedAndTheOldRuleSetStays) {
    fw::RuleSet good;
    good.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "g0"));
    good.default_action = Action::allow;
    use(good);
    const PacketFields ssh = tcp4("10.0.0.1", "10.0.0.2", 1, 22);
    expect(ssh, 0);
    const __u32 gen = installer().active_generation();
    bpf::Map<xdpd_fw_key, xdpd_fw_entry> entries(maps_.entries);
    const size_t n_entries = entries.keys().size();

    // 129 distinct shapes: (src prefix length, dst prefix length) pairs.
    fw::RuleSet big;
    big.default_action = Action::deny;
    for (int i = 0; i <= XDPD_FW_MAX_TUPLES; ++i) {
        fw::Cidr s = cidr("0.0.0.0/0"), d = cidr("0.0.0.0/0");
        s.prefix = 1 + i % 32;
        d.prefix = 1 + i / 32;
        big.rules.push_back(rule(Action::allow, Match{.src = s, .dst = d}, "big" + std::to_string(i)));
    }
    EXPECT_THROW(install(big), fw::CompileError);
    big.rules.pop_back();  // 128 shapes fit
    EXPECT_EQ(fw::compile(big).tuples.size(), size_t(XDPD_FW_MAX_TUPLES));
    EXPECT_NO_THROW(fw::compile(big));

    // Too many rules.
    fw::RuleSet many;
    for (int i = 0; i <= XDPD_FW_MAX_RULES; ++i)
        many.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP, .dport = PortRange{uint16_t(i), uint16_t(i)}}));
    EXPECT_THROW(install(many), fw::CompileError);

    // Too many classifier entries (one generation holds XDPD_FW_MAX_ENTRIES / 2):
    // [1, 254] is 14 prefixes, so each rule makes 14 * 14 entries in 8 * 8 shapes.
    fw::RuleSet wide;
    const size_t per_rule = fw::range_to_prefixes(1, 254).size() * fw::range_to_prefixes(1, 254).size();
    ASSERT_EQ(per_rule, 196u);
    for (size_t i = 0; i * per_rule <= XDPD_FW_MAX_ENTRIES / 2; ++i) {
        fw::Cidr s = cidr("10.0.0.0/32");
        s.addr[2] = uint8_t(i >> 8), s.addr[3] = uint8_t(i);
        wide.rules.push_back(rule(Action::deny, Match{.src = s, .proto = IPPROTO_TCP,
                                                      .sport = PortRange{1, 254}, .dport = PortRange{1, 254}}));
    }
    EXPECT_THROW(install(wide), fw::CompileError);

    // Through all of that, the data plane kept the good rule set.
    EXPECT_EQ(installer().active_generation(), gen);
    EXPECT_EQ(entries.keys().size(), n_entries);
    expect(ssh, 0, "old rule set still enforced");
    expect(tcp4(), -1, "old default still applies");
    auto c = installer().counters();
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].total.packets, 2u) << "the old rule's counter is intact";
}

TEST_F(FirewallFields, EmptyPortRangeMatchesNothing) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{10, 5}}));
    rs.default_action = Action::allow;
    use(rs);
    for (uint16_t p : {4, 5, 7, 10, 11}) expect(tcp4("10.0.0.1", "10.0.0.2", 1, p), -1);
}

}  // namespace
}  // namespace xdpd::test
