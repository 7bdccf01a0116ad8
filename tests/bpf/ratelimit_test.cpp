// Rate limits in the kernel, on an injected clock: per source, per source
// prefix (spoofed floods from one network), per destination (a ceiling), byte
// rates, the allow list's exemption, and exactness with CPUs racing.
#include <netinet/in.h>

#include <atomic>
#include <thread>

#include "shield/limits.hpp"
#include "shield/lists.hpp"
#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

class RateLimit : public PipelineFixture {
protected:
    void SetUp() override { load({.firewall = true, .ratelimit = true}); }

    // One allow rule for UDP to port 53 with the profile; everything else default allow.
    void use(shield::LimitProfile p) {
        p.name = "test";
        shield::install_limits(pipeline_->map("xdpd_limits"), {p});
        fw::RuleSet rs;
        auto r = rule(fw::Action::allow, fw::Match{.proto = IPPROTO_UDP, .dport = fw::PortRange{53, 53}});
        r.limit = "test";
        r.limit_index = 0;
        rs.rules.push_back(r);
        install(rs);
    }
    void set_clock(uint64_t ns) { bpf::RuntimeView(pipeline_->map("xdpd_runtime"))->fake_now_ns = ns; }

    static Bytes dns(const std::string& src, const std::string& dst = "192.0.2.53", size_t len = 0) {
        auto b = PacketBuilder();
        if (src.find(':') != std::string::npos)
            b.ipv6(src, "2001:db8:53::1");
        else
            b.ipv4(src, dst);
        b.udp(5353, 53);
        if (len) b.pad_to(len);
        return b.build();
    }
    // How many of n packets pass.
    int passed(const Bytes& pkt, int n) {
        int ok = 0;
        for (int i = 0; i < n; ++i) ok += verdict(pkt) == XDP_PASS;
        return ok;
    }
};

TEST_F(RateLimit, PerSourceBurstThenRate) {
    use({.per_source = {.pps = 10, .burst = 5}});
    set_clock(100 * kSec);
    EXPECT_EQ(passed(dns("10.0.0.1"), 20), 5) << "the burst";
    EXPECT_EQ(reason_packets(XDPD_R_RATE_SOURCE), 15u);
    set_clock(100 * kSec + kSec / 10);  // 100 ms: one packet's worth at 10 pps
    EXPECT_EQ(passed(dns("10.0.0.1"), 5), 1);
    set_clock(101 * kSec + kSec / 10);  // a whole second: the bucket refills to its burst, not beyond
    EXPECT_EQ(passed(dns("10.0.0.1"), 20), 5);
    EXPECT_EQ(passed(dns("10.0.0.2"), 20), 5) << "another source has its own bucket";
    EXPECT_EQ(passed(dns("2001:db8::7"), 20), 5) << "IPv6 too";
}

TEST_F(RateLimit, OtherTrafficIsNotLimited) {
    use({.per_source = {.pps = 1, .burst = 1}});
    set_clock(5 * kSec);
    auto tcp = PacketBuilder().ipv4("10.0.0.1", "192.0.2.53").tcp(1, 53, kSyn).build();
    EXPECT_EQ(passed(tcp, 50), 50) << "only the rule's traffic is limited";
    EXPECT_EQ(passed(dns("10.0.0.1"), 3), 1);
}

TEST_F(RateLimit, PrefixBucketContainsASpoofedFloodFromOneNetwork) {
    // Each address stays under its own limit; the /24 does not.
    use({.per_source = {.pps = 100, .burst = 10}, .per_prefix = {.pps = 100, .burst = 50}});
    set_clock(7 * kSec);
    int ok = 0;
    for (int host = 1; host <= 200; ++host) ok += passed(dns("10.9.8." + std::to_string(host)), 1);
    EXPECT_EQ(ok, 50);
    EXPECT_EQ(reason_packets(XDPD_R_RATE_PREFIX), 150u);
    EXPECT_EQ(passed(dns("10.9.9.1"), 1), 1) << "the next /24 has its own bucket";
}

TEST_F(RateLimit, Ipv6SourcesGroupByTheirSlash64) {
    use({.per_prefix = {.pps = 10, .burst = 3}});
    set_clock(9 * kSec);
    EXPECT_EQ(passed(dns("2001:db8:1:2::1"), 2) + passed(dns("2001:db8:1:2:ffff::9"), 2), 3);
    EXPECT_EQ(passed(dns("2001:db8:1:3::1"), 5), 3) << "another /64";
}

TEST_F(RateLimit, DestinationCeilingHoldsAgainstManySources) {
    use({.per_source = {.pps = 1000, .burst = 1000}, .per_destination = {.pps = 100, .burst = 100}});
    set_clock(11 * kSec);
    int ok = 0;
    for (int a = 0; a < 1000; ++a) ok += passed(dns("172.16." + std::to_string(a / 250) + "." + std::to_string(a % 250 + 1)), 1);
    EXPECT_EQ(ok, 100);
    EXPECT_EQ(reason_packets(XDPD_R_RATE_DEST), 900u);
    EXPECT_EQ(passed(dns("172.16.9.9", "192.0.2.54"), 1), 1) << "another destination";
}

TEST_F(RateLimit, ByteRate) {
    // 8 Mbit/s = 1 MB/s; burst 10,000 bytes: ten 1000-byte frames, then 1 ms per frame.
    use({.per_source = {.bps = 8e6, .burst_bytes = 10000}});
    set_clock(13 * kSec);
    EXPECT_EQ(passed(dns("10.0.0.1", "192.0.2.53", 1000), 30), 11);  // the burst, plus the frame at its edge
    set_clock(13 * kSec + 5'000'000);  // 5 ms: 5,000 bytes
    EXPECT_EQ(passed(dns("10.0.0.1", "192.0.2.53", 1000), 30), 5);
}

TEST_F(RateLimit, AllowListedSourcesAreExempt) {
    use({.per_source = {.pps = 1, .burst = 1}});
    shield::Lists lists(pipeline_->map("xdpd_bans"), pipeline_->map("xdpd_allow"), pipeline_->map("xdpd_runtime"));
    lists.allow(cidr("10.0.0.0/8"), XDPD_ORIGIN_CONFIG);
    set_clock(15 * kSec);
    EXPECT_EQ(passed(dns("10.0.0.1"), 20), 20);
    EXPECT_EQ(passed(dns("192.168.0.1"), 20), 1);
}

TEST_F(RateLimit, ExactWhenCpusRace) {
    // Two threads hammer one bucket with the clock stopped: exactly the burst
    // gets through, never more (and the CAS loop does not lose tokens).
    use({.per_source = {.pps = 1, .burst = 2000}});
    set_clock(17 * kSec);
    const Bytes pkt = dns("10.0.0.1");
    std::atomic<int> ok{0};
    auto worker = [&] {
        for (int i = 0; i < 3000; ++i)
            ok += bpf::test_run(pipeline_->prog_fd(), pkt).action == XDP_PASS;
    };
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    EXPECT_EQ(ok.load(), 2000);
}

TEST(RateLimitProfile, GcraParameters) {
    auto l = shield::to_data_plane({.per_source = {.pps = 1000, .burst = 2000, .bps = 8e9, .burst_bytes = 1e6}});
    EXPECT_EQ(l.pkt[XDPD_LIM_SOURCE].interval, 1'000'000u);          // 1 ms per packet
    EXPECT_EQ(l.pkt[XDPD_LIM_SOURCE].tolerance_ns, 1999u * 1'000'000u);
    EXPECT_EQ(l.byte[XDPD_LIM_SOURCE].interval, 1000u);              // 1 ns = 1000 ps per byte at 1 GB/s
    EXPECT_EQ(l.byte[XDPD_LIM_SOURCE].tolerance_ns, 1'000'000u);     // 1 MB at 1 GB/s: 1 ms
    EXPECT_EQ(l.pkt[XDPD_LIM_PREFIX].interval, 0u);
    auto d = shield::to_data_plane({.per_source = {.pps = 50}});
    EXPECT_EQ(d.pkt[XDPD_LIM_SOURCE].tolerance_ns, 49u * 20'000'000u) << "default burst: one second's worth";
}

}  // namespace
}  // namespace xdpd::test
