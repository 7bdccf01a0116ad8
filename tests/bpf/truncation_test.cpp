// Truncation at every byte offset, in the kernel: each template frame is cut
// at every length below its full header length. A cut frame must get the
// configured malformed verdict (never XDP_ABORTED), and exactly one malformed
// reason counter must move: the one for the header the cut falls into.
#include <netinet/in.h>

#include <cerrno>
#include <random>
#include <string>

#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

// One header of a template: its length, the reason a cut inside it (or right
// at its start) yields, and the L3 counter such a cut frame is counted under.
struct Segment {
    const char* name;
    size_t len;
    int reason;
    int l3;
};

struct Template {
    const char* name;
    Bytes frame;
    std::vector<Segment> segments;  // in frame order, covering every header byte
};

constexpr int O = XDPD_L3_OTHER, V4 = XDPD_L3_IPV4, V6 = XDPD_L3_IPV6;

std::vector<Template> templates() {
    std::vector<Template> t;
    const Segment eth{"ethernet", 14, XDPD_R_TRUNC_ETH, O};
    const Segment vlan{"vlan tag", 4, XDPD_R_TRUNC_VLAN, O};
    const Segment ip4{"ipv4", 20, XDPD_R_TRUNC_IPV4, V4};
    const Segment ip6{"ipv6", 40, XDPD_R_TRUNC_IPV6, V6};
    {
        PacketBuilder pb;
        pb.ipv4("10.0.0.1", "10.0.0.2").ip_options({0x94, 0x04, 0, 0, 1, 1, 1, 0})
            .tcp(1234, 80, kSyn, {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4});
        t.push_back({"TCP/IPv4 with IP and TCP options", pb.build(),
                     {eth, ip4, {"ipv4 options", 8, XDPD_R_TRUNC_IPV4, V4},
                      {"tcp", 20, XDPD_R_TRUNC_TCP, V4}, {"tcp options", 12, XDPD_R_TRUNC_TCP, V4}}});
    }
    {
        PacketBuilder pb;
        pb.ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0).ipv6_ext(60, 1).udp(53, 53);
        t.push_back({"UDP/IPv6 with hop-by-hop and destination options", pb.build(),
                     {eth, ip6, {"hop-by-hop", 8, XDPD_R_TRUNC_IPV6_EXT, V6},
                      {"destination options", 16, XDPD_R_TRUNC_IPV6_EXT, V6},
                      {"udp", 8, XDPD_R_TRUNC_UDP, V6}}});
    }
    {
        PacketBuilder pb;
        pb.vlan(100, 0x88a8).vlan(200).ipv4("10.0.0.1", "10.0.0.2").icmp(8);
        t.push_back({"ICMP/IPv4 in 802.1ad + 802.1Q", pb.build(),
                     {eth, vlan, vlan, ip4, {"icmp", 8, XDPD_R_TRUNC_ICMP, V4}}});
    }
    {
        PacketBuilder pb;
        pb.ipv6("fe80::1", "ff02::1").icmp(135);
        t.push_back({"ICMPv6", pb.build(), {eth, ip6, {"icmpv6", 8, XDPD_R_TRUNC_ICMP, V6}}});
    }
    {
        PacketBuilder pb;
        pb.vlan(5).ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(43, 1).fragment(0, true)
            .tcp(1, 2, kAck, {1, 1, 1, 1});
        t.push_back({"TCP/IPv6 in a VLAN with routing and fragment headers", pb.build(),
                     {eth, vlan, ip6, {"routing", 16, XDPD_R_TRUNC_IPV6_EXT, V6},
                      {"fragment", 8, XDPD_R_TRUNC_IPV6_EXT, V6}, {"tcp", 24, XDPD_R_TRUNC_TCP, V6}}});
    }
    {
        PacketBuilder pb;
        pb.ipv4("10.0.0.1", "10.0.0.2").udp(1, 2);
        t.push_back({"UDP/IPv4", pb.build(), {eth, ip4, {"udp", 8, XDPD_R_TRUNC_UDP, V4}}});
    }
    return t;
}

struct Mode {
    __u32 malformed;
    bool firewall;
};

void PrintTo(const Mode& m, std::ostream* os) {
    *os << "malformed=" << (m.malformed == XDPD_ACT_DROP ? "drop" : "pass")
        << " firewall=" << (m.firewall ? "deny-all" : "off");
}

class Truncation : public PipelineFixture, public ::testing::WithParamInterface<Mode> {
protected:
    void SetUp() override {
        load({.firewall = GetParam().firewall, .malformed_action = GetParam().malformed});
        if (GetParam().firewall) {  // deny everything: malformed frames never reach it
            fw::RuleSet rs;
            rs.default_action = fw::Action::deny;
            rs.rules.push_back(rule(fw::Action::deny, fw::Match{}));
            install(rs);
        }
    }
};

INSTANTIATE_TEST_SUITE_P(
    Modes, Truncation,
    ::testing::Values(Mode{XDPD_ACT_DROP, false}, Mode{XDPD_ACT_PASS, false},
                      Mode{XDPD_ACT_DROP, true}, Mode{XDPD_ACT_PASS, true}),
    [](const ::testing::TestParamInfo<Mode>& i) {
        return std::string(i.param.malformed == XDPD_ACT_DROP ? "MalformedDrop" : "MalformedPass") +
               (i.param.firewall ? "FirewallDenyAll" : "FirewallOff");
    });

TEST_P(Truncation, EveryCutOfEveryTemplate) {
    for (const Template& t : templates()) {
        SCOPED_TRACE(t.name);
        size_t full = 0;
        for (const Segment& s : t.segments) full += s.len;
        ASSERT_EQ(full, t.frame.size()) << "template segments do not cover the headers";

        size_t start = 0;
        for (const Segment& s : t.segments) {
            for (size_t cut = start; cut < start + s.len; ++cut) {
                SCOPED_TRACE("cut at " + std::to_string(cut) + " (in " + s.name + ")");
                Bytes frame(t.frame.begin(), t.frame.begin() + cut);
                if (cut < 14) {
                    // BPF_PROG_TEST_RUN refuses XDP input shorter than ETH_HLEN
                    // with EINVAL before the program runs. A NIC never hands XDP
                    // a frame below 14 bytes either, so TRUNC_ETH is the
                    // program's defence in depth, unreachable from here.
                    ASSERT_EQ(s.reason, XDPD_R_TRUNC_ETH);
                    const xdpd_if_stats before = stats();
                    __u32 action = 12345;
                    EXPECT_EQ(try_run(frame, 0, &action), EINVAL);
                    EXPECT_EQ(action, 12345u);
                    const xdpd_if_stats after = stats();
                    for (int r = 0; r < XDPD_R_MAX; ++r)
                        EXPECT_EQ(xdpd_reason_total(after, r).packets, xdpd_reason_total(before, r).packets);
                    continue;
                }
                Observation o = observe(frame);
                ASSERT_TRUE(o.ok);
                EXPECT_NE(o.action, XDP_ABORTED);
                EXPECT_EQ(o.action, GetParam().malformed);
                EXPECT_GE(o.reason, XDPD_R_MALFORMED_FIRST);
                EXPECT_LE(o.reason, XDPD_R_MALFORMED_LAST);
                EXPECT_STREQ(reason_name(o.reason), reason_name(s.reason));
                EXPECT_STREQ(l3_name(o.l3), l3_name(s.l3));
                EXPECT_STREQ(l4_name(o.l4), "none");
            }
            start += s.len;
        }
        // The whole template is well formed.
        Observation o = observe(t.frame);
        ASSERT_TRUE(o.ok);
        EXPECT_TRUE(o.reason < XDPD_R_MALFORMED_FIRST || o.reason > XDPD_R_MALFORMED_LAST)
            << reason_name(o.reason);
        EXPECT_EQ(o.action, GetParam().firewall ? XDP_DROP : XDP_PASS);
    }
}

TEST_P(Truncation, ShortInputIsRefusedByTheKernel) {
    // Lengths 0..13: EINVAL, for any content; 14 bytes run.
    for (size_t n = 0; n < 14; ++n)
        EXPECT_EQ(try_run(Bytes(n, 0xff), 0, nullptr), EINVAL) << n << " bytes";
    EXPECT_EQ(try_run(Bytes(14, 0xff), 0, nullptr), 0);
    // And with an ingress interface in the context (another code path).
    EXPECT_EQ(try_run(Bytes(13, 0), 1, nullptr), EINVAL);
}

// Random corruption of valid frames: whatever the bytes, the verdict is PASS
// or DROP, never ABORTED; exactly one counter per family moves; a malformed
// reason always comes with the configured malformed verdict.
TEST_P(Truncation, RandomCorruptionNeverAborts) {
    const char* env = std::getenv("XDPD_FUZZ_SEED");
    const uint64_t seed = env ? std::strtoull(env, nullptr, 0) : 0x5eed1234;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (set XDPD_FUZZ_SEED to replay)");
    std::mt19937_64 rng(seed);
    auto ts = templates();
    for (int i = 0; i < 1500; ++i) {
        Bytes f = ts[rng() % ts.size()].frame;
        f.resize(f.size() + rng() % 16, uint8_t(rng()));
        int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) f[rng() % f.size()] = uint8_t(rng());
        if (rng() % 3 == 0) f.resize(14 + rng() % (f.size() - 13));
        Observation o = observe(f);
        ASSERT_TRUE(o.ok) << "packet " << i;
        ASSERT_TRUE(o.action == XDP_PASS || o.action == XDP_DROP) << "packet " << i << ": " << o.action;
        if (o.reason >= XDPD_R_MALFORMED_FIRST && o.reason <= XDPD_R_MALFORMED_LAST)
            ASSERT_EQ(o.action, GetParam().malformed) << "packet " << i;
        else if (o.reason == XDPD_R_NON_IP || o.reason == XDPD_R_NO_FIREWALL)
            ASSERT_EQ(o.action, XDP_PASS) << "packet " << i;
        else
            ASSERT_TRUE(GetParam().firewall && o.reason == XDPD_R_FW_DENY && o.action == XDP_DROP)
                << "packet " << i << ": " << reason_name(o.reason);
    }
}

}  // namespace
}  // namespace xdpd::test
