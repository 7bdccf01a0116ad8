// The watch stage in the kernel (bpf/watch.h): packets counted per watch (by
// destination prefix) and protocol before any stage drops them; SYNs; the
// HyperLogLog registers, equal to the control plane's reference; sampled
// source tracking; and the state the later stages obey (a watch's limit
// profile replaces the rule's, SYN cookies switched on per watch).
#include <arpa/inet.h>

#include "mitigation/hll.hpp"
#include "mitigation/watch_maps.hpp"
#include "shield/limits.hpp"
#include "shield/lists.hpp"
#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

class Watch : public PipelineFixture {
protected:
    void SetUp() override { use({.firewall = false, .ratelimit = true, .watch = true}); }

    void use(bpf::PipelineConfig cfg) {
        load(cfg);
        watch_.emplace([this](const std::string& n) { return pipeline_->map(n); });
        config::WatchConfig def{.name = "default"}, web{.name = "web"};
        web.prefixes = {cidr("192.0.2.0/24"), cidr("2001:db8::/64")};
        watch_->install_prefixes({def, web});
    }
    __u64 packets(__u32 w, xdpd_watch_proto p) { return watch_->counters(w).proto[p].packets; }

    std::optional<mitigation::WatchMaps> watch_;
};

TEST_F(Watch, CountsByDestinationPrefixAndProtocol) {
    for (int i = 0; i < 3; ++i) verdict(PacketBuilder().ipv4("10.0.0.1", "192.0.2.10").tcp(1, 80, kSyn).build());
    verdict(PacketBuilder().ipv4("10.0.0.1", "192.0.2.10").tcp(1, 80, kSyn | kAck).build());
    verdict(PacketBuilder().ipv4("10.0.0.1", "192.0.2.10").tcp(1, 80, kAck).build());
    for (int i = 0; i < 2; ++i) verdict(PacketBuilder().ipv6("2001:db8:9::1", "2001:db8::53").udp(1, 53).build());
    for (int i = 0; i < 4; ++i) verdict(PacketBuilder().ipv4("10.0.0.1", "198.51.100.1").icmp(8).build());
    verdict(PacketBuilder().ipv6("2001:db8:9::1", "2001:db8:1::1").l4_proto(47).build());

    EXPECT_EQ(packets(1, XDPD_WP_TCP), 5u);
    EXPECT_EQ(watch_->counters(1).syn, 3u) << "SYN without ACK only";
    EXPECT_EQ(packets(1, XDPD_WP_UDP), 2u) << "IPv6 prefix of the same watch";
    EXPECT_EQ(packets(0, XDPD_WP_ICMP), 4u) << "other destinations count for the default watch";
    EXPECT_EQ(packets(0, XDPD_WP_OTHER), 1u);
    EXPECT_EQ(packets(1, XDPD_WP_ICMP) + packets(0, XDPD_WP_TCP), 0u);
    const auto c = watch_->counters(1);
    EXPECT_EQ(c.proto[XDPD_WP_TCP].bytes, 5u * PacketBuilder().ipv4("1.1.1.1", "2.2.2.2").tcp(1, 1).build().size());
}

TEST_F(Watch, CountsPacketsThatLaterStagesDrop) {
    shield::Lists lists(pipeline_->map("xdpd_bans"), pipeline_->map("xdpd_allow"), pipeline_->map("xdpd_runtime"));
    lists.ban(cidr("10.6.6.6/32"), std::nullopt, "test", XDPD_ORIGIN_API);
    EXPECT_EQ(verdict(PacketBuilder().ipv4("10.6.6.6", "192.0.2.1").udp(1, 53).build()), XDP_DROP);
    EXPECT_EQ(packets(1, XDPD_WP_UDP), 1u) << "the attack's full rate stays visible while it is dropped";
}

TEST_F(Watch, HyperLogLogRegistersMatchTheReference) {
    mitigation::HllRegisters want{};
    for (int i = 0; i < 3000; ++i) {
        const std::string src = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1";
        verdict(PacketBuilder().ipv4(src, "192.0.2.1").udp(1, 53).build());
        verdict(PacketBuilder().ipv4(src, "192.0.2.1").udp(1, 53).build());  // repeats add nothing
        __u32 w[4] = {};
        inet_pton(AF_INET, src.c_str(), &w[0]);
        mitigation::hll_add(want, xdpd_source_hash(w));
    }
    const auto got = watch_->take_hll(1);
    EXPECT_EQ(got, want);
    const double est = mitigation::hll_estimate(got);
    EXPECT_NEAR(est, 3000, 3000 * 0.2) << "HyperLogLog estimate, ~6.5% standard error";
    EXPECT_EQ(watch_->take_hll(1), mitigation::HllRegisters{}) << "taking clears the registers";
    EXPECT_EQ(watch_->take_hll(0), mitigation::HllRegisters{});
}

TEST(HyperLogLog, EstimatesSmallAndLargeCounts) {
    for (int n : {0, 1, 10, 100, 1000, 100000}) {
        mitigation::HllRegisters r{};
        for (int i = 0; i < n; ++i) {
            __u32 w[4] = {__u32(i) * 2654435761u, 0, 0xffff0000u, 7};
            mitigation::hll_add(r, xdpd_source_hash(w));
        }
        EXPECT_NEAR(mitigation::hll_estimate(r), n, n * 0.2 + 1) << n << " distinct sources";
    }
}

TEST_F(Watch, TracksOneSourcePacketInNOnlyWhenAsked) {
    auto pkt = PacketBuilder().ipv4("10.1.2.3", "192.0.2.1").udp(1, 53).build();
    for (int i = 0; i < 40; ++i) verdict(pkt);
    EXPECT_TRUE(watch_->sources(1).empty()) << "tracking is off by default";
    watch_->set_tracking(4);
    for (int i = 0; i < 40; ++i) verdict(pkt);
    auto s = watch_->sources(1);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].source.str(), "10.1.2.3/32");
    EXPECT_EQ(s[0].packets, 10u) << "one packet in 4 (this test runs on one CPU)";
    EXPECT_EQ(s[0].bytes, 10u * pkt.size());
    EXPECT_TRUE(watch_->sources(0).empty());
    watch_->clear_sources();
    EXPECT_TRUE(watch_->sources(1).empty());
}

TEST_F(Watch, AttackLimitAppliesToTheWatchOnly) {
    shield::LimitProfile tight{.name = "tight", .per_source = {.pps = 1, .burst = 2}};
    shield::install_limits(pipeline_->map("xdpd_limits"), {tight});
    bpf::RuntimeView(pipeline_->map("xdpd_runtime"))->fake_now_ns = 42'000'000'000ull;
    auto to_web = PacketBuilder().ipv4("10.1.2.3", "192.0.2.1").udp(1, 53).build();
    auto elsewhere = PacketBuilder().ipv4("10.1.2.3", "198.51.100.1").udp(1, 53).build();
    int ok = 0;
    for (int i = 0; i < 10; ++i) ok += verdict(to_web) == XDP_PASS;
    EXPECT_EQ(ok, 10) << "no attack, no limit";

    watch_->set_state(1, {.limit = 1, .flags = XDPD_WATCH_F_ATTACK});
    ok = 0;
    for (int i = 0; i < 10; ++i) ok += verdict(to_web) == XDP_PASS;
    EXPECT_EQ(ok, 2) << "the profile's burst";
    EXPECT_EQ(reason_packets(XDPD_R_RATE_SOURCE), 8u);
    ok = 0;
    for (int i = 0; i < 10; ++i) ok += verdict(elsewhere) == XDP_PASS;
    EXPECT_EQ(ok, 10) << "other watches are not limited";

    watch_->set_state(1, {});
    ok = 0;
    for (int i = 0; i < 10; ++i) ok += verdict(to_web) == XDP_PASS;
    EXPECT_EQ(ok, 10) << "attack over, limit gone";
}

TEST_F(Watch, AutoSynCookiesAnswerOnlyWhereSwitchedOn) {
    bpf::PipelineConfig cfg{.firewall = false, .watch = true, .syncookie_ports = {80}, .syncookie_auto = true};
    use(cfg);
    auto syn = PacketBuilder().ipv4("203.0.113.7", "192.0.2.1").tcp(1234, 80, kSyn).build();
    auto syn_other = PacketBuilder().ipv4("203.0.113.7", "198.51.100.1").tcp(1234, 80, kSyn).build();
    EXPECT_EQ(verdict(syn), XDP_PASS) << "mode auto, no attack: the kernel answers";
    watch_->set_state(1, {.flags = XDPD_WATCH_F_ATTACK | XDPD_WATCH_F_SYNCOOKIE});
    EXPECT_EQ(verdict(syn), XDP_TX) << "switched on for the watch under attack";
    EXPECT_EQ(verdict(syn_other), XDP_PASS) << "not for other destinations";
    EXPECT_EQ(reason_packets(XDPD_R_SYNCOOKIE_SENT), 1u);
    watch_->set_state(1, {});
    EXPECT_EQ(verdict(syn), XDP_PASS);
}

TEST_F(Watch, OffWhenNotConfigured) {
    load({.firewall = false});
    mitigation::WatchMaps w([this](const std::string& n) { return pipeline_->map(n); });
    verdict(PacketBuilder().ipv4("10.1.2.3", "192.0.2.1").udp(1, 53).build());
    EXPECT_EQ(w.counters(0).proto[XDPD_WP_UDP].packets, 0u) << "stage compiled out";
}

}  // namespace
}  // namespace xdpd::test
