// Firewall stage, in the kernel: packet in -> verdict, reason and rule counters.
#include <netinet/in.h>

#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;

class Firewall : public PipelineFixture {
protected:
    void SetUp() override { load(); }
};

Bytes tcp4(const char* src, const char* dst, uint16_t dport, uint8_t flags = kSyn) {
    return PacketBuilder().ipv4(src, dst).tcp(40000, dport, flags).build();
}

TEST_F(Firewall, EmptyRuleSetAppliesDefaultPolicy) {
    fw::RuleSet rs;
    rs.default_action = Action::deny;
    install(rs);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 80)), XDP_DROP);
    EXPECT_EQ(reason_packets(XDPD_R_DEFAULT_DENY), 1u);
    rs.default_action = Action::allow;
    install(rs);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 80)), XDP_PASS);
    EXPECT_EQ(reason_packets(XDPD_R_DEFAULT_ALLOW), 1u);
}

TEST_F(Firewall, DenyPortAllowOther) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}));
    install(rs);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 22)), XDP_DROP);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 80)), XDP_PASS);
    EXPECT_EQ(reason_packets(XDPD_R_FW_DENY), 1u);
    EXPECT_EQ(reason_packets(XDPD_R_DEFAULT_ALLOW), 1u);
    auto c = installer().counters();
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].total.packets, 1u);
    EXPECT_EQ(c[0].total.bytes, tcp4("10.0.0.1", "10.0.0.2", 22).size());
}

TEST_F(Firewall, CountersOfLargeRuleSetsAreReadInBatches) {
    // 1,000 rules: counters() reads the whole per-CPU array in batches instead of
    // a lookup per rule; each rule must still get exactly its own packets,
    // across a reload that gives the rules new slots.
    fw::RuleSet rs;
    for (uint16_t p = 0; p < 1000; ++p)
        rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{uint16_t(1000 + p), uint16_t(1000 + p)}}));
    install(rs);
    for (uint16_t p : {0, 1, 499, 999})
        for (int n = 0; n <= p % 3; ++n) EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 1000 + p)), XDP_DROP);
    auto check = [&](size_t offset) {
        const auto c = installer().counters();
        ASSERT_EQ(c.size(), rs.rules.size());
        for (size_t i = 0; i < c.size(); ++i) {
            const size_t p = i - offset;
            const uint64_t want = (p == 0 || p == 1 || p == 499 || p == 999) ? p % 3 + 1 : 0;
            EXPECT_EQ(c[i].total.packets, want) << "rule " << i;
            EXPECT_EQ(c[i].total.bytes, want * tcp4("10.0.0.1", "10.0.0.2", 80).size()) << "rule " << i;
        }
    };
    check(0);
    // A new first rule: every other rule moves down one place, its counter with it.
    rs.rules.insert(rs.rules.begin(), rule(Action::allow, Match{.proto = IPPROTO_UDP}));
    install(rs);
    check(1);
}

TEST_F(Firewall, FirstMatchWinsAcrossShapes) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::allow, Match{.src = cidr("10.1.2.3/32")}));
    rs.rules.push_back(rule(Action::deny, Match{.src = cidr("10.0.0.0/8")}));
    install(rs);
    EXPECT_EQ(verdict(tcp4("10.1.2.3", "192.0.2.1", 80)), XDP_PASS);
    EXPECT_EQ(verdict(tcp4("10.1.2.4", "192.0.2.1", 80)), XDP_DROP);
    EXPECT_EQ(verdict(tcp4("11.1.2.4", "192.0.2.1", 80)), XDP_PASS);
}

TEST_F(Firewall, MonitorModeCountsButPasses) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}));
    install(rs);
    installer().set_monitor(true);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 22)), XDP_PASS);
    EXPECT_EQ(reason_packets(XDPD_R_FW_MONITOR), 1u);
    EXPECT_EQ(installer().counters()[0].total.packets, 1u);
    installer().set_monitor(false);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 22)), XDP_DROP);
}

TEST_F(Firewall, CountRulesCountAndContinue) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::count, Match{.proto = IPPROTO_TCP}));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}));
    rs.rules.push_back(rule(Action::count, Match{.dst = cidr("10.0.0.2/32")}));
    install(rs);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 22)), XDP_DROP);
    EXPECT_EQ(verdict(tcp4("10.0.0.1", "10.0.0.2", 80)), XDP_PASS);
    auto c = installer().counters();
    EXPECT_EQ(c[0].total.packets, 2u);  // both TCP packets
    EXPECT_EQ(c[1].total.packets, 1u);  // the port 22 one
    EXPECT_EQ(c[2].total.packets, 1u);  // only the one not denied before it
}

TEST_F(Firewall, CountersSurviveReloadOfUnchangedRules) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP}));
    install(rs);
    EXPECT_EQ(verdict(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build()), XDP_DROP);
    rs.rules.insert(rs.rules.begin(), rule(Action::allow, Match{.proto = IPPROTO_TCP}));
    install(rs);
    auto c = installer().counters();
    EXPECT_EQ(c[0].total.packets, 0u);
    EXPECT_EQ(c[1].total.packets, 1u);
}

TEST_F(Firewall, PortRangeExpandsExactly) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP, .dport = fw::PortRange{1000, 2999}}));
    install(rs);
    for (uint16_t p : {999, 1000, 1023, 1024, 2047, 2048, 2999, 3000}) {
        auto pkt = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(5, p).build();
        EXPECT_EQ(verdict(pkt), (p >= 1000 && p <= 2999) ? XDP_DROP : XDP_PASS) << "port " << p;
    }
}

}  // namespace
}  // namespace xdpd::test
