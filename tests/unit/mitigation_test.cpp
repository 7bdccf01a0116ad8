// Automatic mitigation without a kernel: the `mitigation` config section
// (defaults, inheritance, errors with positions) and the detector's state
// machine (EWMA smoothing, thresholds, cooldown).
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "support/config_errors.hpp"
#include "mitigation/detector.hpp"

using namespace xdpd;
using namespace xdpd::config;
using namespace std::chrono_literals;

namespace {

const std::string kHead = R"(interfaces:
  - name: eth0
shield:
  limits:
    - name: flood
      per_source: {pps: 100}
syncookies:
  mode: auto
  ports: [80]
)";

using xdpd::test::only_error;

TEST(MitigationConfig, OffWithoutTheSection) {
    auto c = load_string("interfaces:\n  - name: eth0\n", "t.yaml");
    EXPECT_FALSE(c.mitigation.enabled);
}

TEST(MitigationConfig, WatchesInheritThresholdsAndActions) {
    auto c = load_string(kHead + R"(mitigation:
  smoothing: 2s
  cooldown: 1m
  sample: 8
  hook: /usr/local/bin/blackhole
  thresholds: {pps: 100k, syn_pps: 5k}
  actions: {syncookies: true}
  watch:
    - name: web
      prefixes: [192.0.2.0/24, 2001:db8::/64]
      thresholds: {syn_pps: 1k, sources: 2000}
      actions:
        limit: flood
        ban: {top: 5, over_pps: 10k, duration: 10m}
)",
                         "t.yaml");
    const auto& m = c.mitigation;
    EXPECT_TRUE(m.enabled);
    EXPECT_EQ(m.smoothing, 2s);
    EXPECT_EQ(m.cooldown, 60s);
    EXPECT_EQ(m.sample, 8u);
    EXPECT_EQ(m.hook, "/usr/local/bin/blackhole");
    ASSERT_EQ(m.watches.size(), 2u);
    EXPECT_EQ(m.watches[0].name, "default");
    EXPECT_TRUE(m.watches[0].prefixes.empty());
    EXPECT_EQ(m.watches[1].prefixes.size(), 2u);

    auto t = m.thresholds_of(1);
    EXPECT_EQ(t.pps, 100e3) << "inherited";
    EXPECT_EQ(t.syn_pps, 1e3) << "own value wins";
    EXPECT_EQ(t.sources, 2000);
    EXPECT_FALSE(t.bps);
    auto a = m.actions_of(1);
    EXPECT_EQ(a.limit_index, 0u);
    EXPECT_TRUE(a.syncookies.value_or(false)) << "inherited";
    EXPECT_EQ(a.ban_top, 5u);
    EXPECT_EQ(a.ban_over_pps, 10e3);
    EXPECT_EQ(a.ban_for, 600s);
    EXPECT_FALSE(m.actions_of(0).limit);
    EXPECT_EQ(m.thresholds_of(0).syn_pps, 5e3);
    EXPECT_TRUE(c.syncookies.automatic);
    EXPECT_TRUE(c.warnings.empty());
}

TEST(MitigationConfig, Errors) {
    EXPECT_EQ(only_error(kHead + "mitigation: {}\n"),
              "t.yaml:10:13: error: mitigation sets no thresholds: give mitigation.thresholds (pps, bps, "
              "syn_pps, udp_pps, icmp_pps, sources) or thresholds per watch");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {ppps: 5}\n"),
              "t.yaml:11:16: error: unknown threshold key 'ppps', did you mean 'pps'?");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: lots}\n"),
              "t.yaml:11:21: error: pps must be a positive number (suffixes k, M, G), got 'lots'");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  sample: 10\n  thresholds: {pps: 5}\n"),
              "t.yaml:11:11: error: sample must be a power of two (1, 2, 4 ... 65536), got 10");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: 5}\n  actions: {limit: flod}\n"),
              "t.yaml:11:3: error: mitigation.actions: no limit profile 'flod' in shield.limits (did you "
              "mean 'flood'?)");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: 5}\n  watch:\n    - name: default\n"
                                 "      prefixes: [10.0.0.0/8]\n"),
              "t.yaml:13:13: error: 'default' is the watch of all other destinations; pick another name");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: 5}\n  watch:\n    - name: a\n"),
              "t.yaml:13:7: error: a watch needs prefixes: a non-empty list of destination prefixes");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: 5}\n  watch:\n    - name: a\n"
                                 "      prefixes: [10.0.0.1/8]\n"),
              "t.yaml:14:18: error: prefix: '10.0.0.1/8' has host bits set beyond /8 (did you mean 10.0.0.0/8?)");
    EXPECT_EQ(only_error(kHead + "mitigation:\n  thresholds: {pps: 5}\n  actions: {ban: {top: 3}}\n"),
              "t.yaml:12:18: error: ban needs over_pps: only sources sending more than this are banned");
    EXPECT_EQ(only_error("interfaces:\n  - name: eth0\nmitigation:\n  thresholds: {pps: 5}\n"
                         "  actions: {syncookies: true}\n"),
              "t.yaml:4:3: error: mitigation.actions: syncookies: true needs a syncookies section with "
              "the ports to protect and mode: auto");
}

TEST(MitigationConfig, Warnings) {
    auto c = load_string("interfaces:\n  - name: eth0\nsyncookies: {mode: auto, ports: [80]}\n", "t.yaml");
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].message.find("no mitigation action switches them on"), std::string::npos);
}

config::Thresholds syn_only(double v) {
    config::Thresholds t;
    t.syn_pps = v;
    return t;
}

mitigation::Rates syn(double v) {
    mitigation::Rates r;
    r.syn_pps = v;
    return r;
}

TEST(Detector, StartsOnTheSmoothedRateAndEndsAfterTheCooldown) {
    using C = mitigation::Detector::Change;
    mitigation::Detector d(syn_only(1000), 2s, 5s);
    EXPECT_EQ(d.update(syn(100), 1, 0), C::none);
    // EWMA with tau 2 s, 1 s steps: alpha = 1 - e^-0.5 = 0.393
    EXPECT_EQ(d.update(syn(2000), 1, 1), C::none) << "a one-second spike to 2000 smooths to 844";
    EXPECT_NEAR(d.smoothed().syn_pps, 100 + 0.3935 * 1900, 1);
    EXPECT_EQ(d.update(syn(2000), 1, 2), C::started);
    EXPECT_TRUE(d.active());
    ASSERT_EQ(d.crossings().size(), 1u);
    EXPECT_EQ(d.crossings()[0].metric, "syn_pps");
    EXPECT_EQ(d.started_at(), 2);
    for (int t = 3; t < 8; ++t) EXPECT_EQ(d.update(syn(50000), 1, t), C::none);
    const double peak = d.peak().syn_pps;
    EXPECT_GT(peak, 40000);
    // Flood stops: the average decays below 1000 after a few seconds, then
    // 5 s of quiet end the attack.
    int t = 8;
    while (d.update(syn(0), 1, t) == C::none && t < 60) ++t;
    EXPECT_FALSE(d.active());
    EXPECT_GE(t, 8 + 6 + 5) << "decay (~6 s from 50000 to 1000) plus the 5 s cooldown";
    EXPECT_LE(t, 8 + 9 + 5);
    EXPECT_EQ(d.peak().syn_pps, peak) << "the peak stays for the attack_end event";
}

TEST(Detector, ARelapseDuringTheCooldownKeepsTheAttack) {
    using C = mitigation::Detector::Change;
    mitigation::Detector d(syn_only(1000), 1s, 3s);
    d.update(syn(5000), 1, 0);
    EXPECT_TRUE(d.active()) << "the first sample seeds the average";
    int t = 1;
    while (d.smoothed().syn_pps > 1000) d.update(syn(0), 1, t++);
    EXPECT_EQ(d.update(syn(0), 1, t++), C::none);
    EXPECT_EQ(d.update(syn(9000), 1, t++), C::none) << "over again: the quiet period restarts";
    while (d.smoothed().syn_pps > 1000) d.update(syn(0), 1, t++);
    const int quiet = t;
    while (d.update(syn(0), 1, t) == C::none) ++t;
    EXPECT_GE(t - quiet, 2);
}

TEST(Detector, AnyThresholdStartsAnAttack) {
    config::Thresholds th;
    th.pps = 1e6;
    th.sources = 500;
    mitigation::Detector d(th, 1s, 1s);
    mitigation::Rates r;
    r.pps = 1000;
    r.sources = 10000;
    EXPECT_EQ(d.update(r, 1, 0), mitigation::Detector::Change::started);
    ASSERT_EQ(d.crossings().size(), 1u);
    EXPECT_EQ(d.crossings()[0].str(), "sources 10000 > 500");
}

}  // namespace
