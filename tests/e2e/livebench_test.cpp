// xdpd-livebench's live flood, ~1 s per case: functional facts only, never
// speed. Every mechanism (bare XDP_DROP, xdpd's firewall rule, xdpd's ban,
// nftables netdev ingress and inet prerouting) must drop the flood, and its
// own counter must match the frames the sender's veth handed to the receiver.
#include <gtest/gtest.h>
#include <unistd.h>

#include "bench/live_report.hpp"
#include "bench/live_run.hpp"

namespace xdpd::test {
namespace {

TEST(LiveBench, EveryMechanismDropsAndCountsTheWholeFlood) {
    bench::LiveOptions o;
    o.seconds = 1;
    o.warmup = 0.2;
    o.gen_cpu = 0;
    o.rx_cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : -1;
    o.xdpd_binary = XDPD_BINARY;
    o.verbose = false;
    auto run = bench::run_live(bench::parse_live_cases("default"), o, bench::RunInfo{});
    ASSERT_EQ(run.results.size(), 5u);
    for (const auto& r : run.results) {
        SCOPED_TRACE(r.c.name);
        ASSERT_EQ(r.status, bench::LiveResult::Status::ok) << r.error;
        EXPECT_GT(r.total_sent(), 0u);
        EXPECT_GT(r.total_dropped(), 0u);
        EXPECT_GT(r.end.dropped, r.start.dropped) << "drops counted during the measured interval";
        EXPECT_LE(r.total_delivered(), r.total_sent());
    }
    auto problems = bench::check_live(run, 0.01);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
}

}  // namespace
}  // namespace xdpd::test
