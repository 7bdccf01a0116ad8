// xdpd-livebench's live flood, ~1 s per case: functional facts only, never
// speed. Every mechanism (bare XDP_DROP, xdpd's firewall rule, xdpd's ban,
// nftables netdev ingress and inet prerouting) must drop the flood, and its
// own counter must match the frames the sender's veth handed to the receiver.
#include <gtest/gtest.h>

#include <regex>
#include <unistd.h>

#include "bench/live_report.hpp"
#include "bench/live_run.hpp"

namespace xdpd::test {
namespace {

// A short run: generator on CPU 0, the receiver's NAPI thread on CPU 1 (when there is one).
bench::LiveOptions short_run(double seconds, double warmup) {
    bench::LiveOptions o;
    o.seconds = seconds;
    o.warmup = warmup;
    o.gen_cpu = 0;
    o.rx_cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : -1;
    o.xdpd_binary = XDPD_BINARY;
    o.verbose = false;
    return o;
}

TEST(LiveBench, EveryMechanismDropsAndCountsTheWholeFlood) {
    bench::LiveOptions o = short_run(1, 0.2);
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

// xdpd-capture: the firewall keeps dropping the flood while `xdpd capture`
// takes every packet, and the capture got packets (written or counted lost).
TEST(LiveBench, CaptureCaseCountsWhatTheCaptureGot) {
    bench::LiveOptions o = short_run(1, 0.2);
    auto run = bench::run_live(bench::parse_live_cases("xdpd-capture"), o, bench::RunInfo{});
    ASSERT_EQ(run.results.size(), 1u);
    const auto& r = run.results[0];
    ASSERT_EQ(r.status, bench::LiveResult::Status::ok) << r.error;
    EXPECT_GT(r.end.dropped, r.start.dropped);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.counter, m, std::regex(R"(capture so far: (\d+) written, (\d+) lost)"))) << r.counter;
    EXPECT_GT(std::stoull(m[1]), 0u) << r.counter;
}

// --sockets, 0.5 s per case: every userspace receiver (AF_XDP through xdpd's
// steer rule and through a bare redirect program, AF_PACKET v3, recvmmsg,
// testpmd with net_af_packet and net_af_xdp) must count packets of the flood,
// never more than it was handed, with its CPU measured.
TEST(LiveBench, SocketReceiversCountTheFlood) {
    bench::LiveOptions o = short_run(0.5, 0.3);
    o.sockets = true;
    auto run = bench::run_live(bench::parse_live_cases("sockets"), o, bench::RunInfo{});
    ASSERT_EQ(run.results.size(), 7u);
    for (const auto& r : run.results) {
        SCOPED_TRACE(r.c.name);
        if (r.c.name.starts_with("testpmd") && o.rx_cpu < 0) {
            // testpmd needs two CPUs (main and forwarding lcore): it must say so.
            EXPECT_EQ(r.status, bench::LiveResult::Status::error);
            EXPECT_NE(r.error.find("two distinct CPUs"), std::string::npos) << r.error;
            continue;
        }
        ASSERT_EQ(r.status, bench::LiveResult::Status::ok) << r.error;
        EXPECT_EQ(r.socket, r.c.name != "drop");
        EXPECT_GT(r.end.dropped, r.start.dropped) << "packets counted during the measured interval";
        EXPECT_GT(r.total_dropped(), 0u);
        EXPECT_LE(r.total_delivered(), r.total_sent());
        EXPECT_GT(r.end.cpu_total_s, r.start.cpu_total_s) << "CPU time of the receive side measured";
        if (r.socket) {
            EXPECT_GT(r.end.app_cpu_s, 0.0) << "the receiving application's CPU time";
        }
        if (o.rx_cpu >= 0) {
            EXPECT_GT(r.end.napi_cpu_s, r.start.napi_cpu_s) << "the NAPI thread's CPU time";
        }
        EXPECT_GT(r.mpps_per_cpu(), 0.0);
    }
    auto problems = bench::check_live(run, 0.01);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
    // The table names the copy-mode caveat and every case.
    auto table = bench::render_live_table(run, o);
    EXPECT_NE(table.find("copy mode"), std::string::npos);
    for (const auto& r : run.results) EXPECT_NE(table.find(r.c.name), std::string::npos);
}

}  // namespace
}  // namespace xdpd::test
