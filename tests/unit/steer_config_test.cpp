// Steering in the config: the `steer` rule action with `to`/`cpu`, the
// `steer` section, and errors with their positions.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "fw/compiler.hpp"
#include "support/config_errors.hpp"

using namespace xdpd::config;
using xdpd::test::only_error;
namespace fw = xdpd::fw;

namespace {

const std::string kIf = "interfaces:\n  - name: eth0\n";

// A firewall with one rule whose body is `rule` (indented under "- ").
std::string with_rule(const std::string& rule, const std::string& more = "") {
    return kIf + "firewall:\n  rules:\n    - " + rule + "\n" + more;
}

TEST(SteerConfig, DefaultsWithoutTheSection) {
    auto c = load_string(kIf, "t.yaml");
    EXPECT_EQ(c.steer.cpus, online_cpus()) << "default: every online CPU";
    EXPECT_FALSE(c.steer.cpus.empty());
    EXPECT_EQ(c.steer.queue_size, 2048u);
    EXPECT_EQ(c.steer.no_socket, __u32(XDPD_ACT_PASS));
    EXPECT_FALSE(SteerConfig::any(c.rules));
}

TEST(SteerConfig, RulesAndSection) {
    auto c = load_string(kIf + R"(firewall:
  rules:
    - {id: deny-bad, action: deny, src: 10.9.0.0/16}
    - {id: app, action: steer, proto: udp, dport: 5000}
    - {action: steer, proto: udp, dport: 6000, to: cpu, cpu: 0}
    - {action: steer, proto: udp, dport: 7000, to: cpu, limit: p}
shield:
  limits:
    - {name: p, per_source: {pps: 10}}
steer:
  cpus: [0]
  queue_size: 512
  no_socket: drop
)", "t.yaml");
    ASSERT_EQ(c.rules.rules.size(), 4u);
    const auto& r = c.rules.rules;
    EXPECT_EQ(r[1].action, fw::Action::steer);
    EXPECT_EQ(r[1].steer.to, fw::Steer::To::xsk);
    EXPECT_EQ(r[1].steer.encode(), XDPD_STEER_XSK);
    EXPECT_EQ(r[2].steer.to, fw::Steer::To::cpu);
    EXPECT_EQ(r[2].steer.cpu, 0u);
    EXPECT_EQ(r[2].steer.encode(), XDPD_STEER_PIN | 0u);
    EXPECT_EQ(r[3].steer.encode(), XDPD_STEER_SPREAD);
    EXPECT_EQ(r[3].limit_index, 0u);
    EXPECT_EQ(r[3].describe(), "steer udp dport 7000 limit p to cpu");
    EXPECT_TRUE(SteerConfig::any(c.rules));
    EXPECT_EQ(c.steer.cpus, std::vector<__u32>{0});
    EXPECT_EQ(c.steer.queue_size, 512u);
    EXPECT_EQ(c.steer.no_socket, __u32(XDPD_ACT_DROP));

    // Compiled: steer rules are allow entries that carry their target and limit.
    auto compiled = fw::compile(c.rules);
    int steer_entries = 0;
    for (const auto& e : compiled.entries) {
        if (e.value.steer == XDPD_STEER_NONE) continue;
        ++steer_entries;
        EXPECT_EQ(e.value.action, __u32(XDPD_FW_ALLOW));
        if (e.value.steer == XDPD_STEER_SPREAD) {
            EXPECT_EQ(e.value.limit, 1u);
        }
    }
    EXPECT_EQ(steer_entries, 3);
}

TEST(SteerConfig, RuleFieldErrors) {
    EXPECT_EQ(only_error(with_rule("{action: steer, proto: udp, to: socket}")),
              "t.yaml:5:39: error: to must be xsk or cpu, got 'socket' (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: allow, proto: udp, to: cpu}")),
              "t.yaml:5:35: error: to applies to steer rules only, not to allow rules (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: deny, cpu: 1}")),
              "t.yaml:5:22: error: cpu applies to steer rules only, not to deny rules (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: steer, cpu: 0}")),
              "t.yaml:5:23: error: cpu needs 'to: cpu'; the default target is xsk (the AF_XDP socket of the "
              "packet's RX queue) (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: steer, to: xsk, cpu: 0}")),
              "t.yaml:5:32: error: cpu needs 'to: cpu'; this rule steers to xsk (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: steer, to: cpu, cpu: 99999}")),
              "t.yaml:5:37: error: cpu 99999 is out of range 0-1023 (rule 1)");
    EXPECT_EQ(only_error(with_rule("{action: count, limit: x}")),
              "t.yaml:5:30: error: limit applies to allow and steer rules only: it limits the traffic the "
              "rule lets in (rule 1)");
}

TEST(SteerConfig, CpusMustBeOnline) {
    const auto online = online_cpus();
    const __u32 off = online.back() + 1;  // past the last online CPU
    EXPECT_EQ(only_error(with_rule("{action: steer, to: cpu, cpu: " + std::to_string(off) + "}")),
              "t.yaml:5:37: error: cpu " + std::to_string(off) + " is not online (online CPUs: " +
                  (online.size() == 1 ? "0" : "0-" + std::to_string(online.back())) + ") (rule 1)");
    EXPECT_EQ(only_error(kIf + "steer:\n  cpus: [0, " + std::to_string(off) + "]\n"),
              "t.yaml:4:13: error: cpu " + std::to_string(off) + " is not online (online CPUs: " +
                  (online.size() == 1 ? "0" : "0-" + std::to_string(online.back())) + ")");
    if (online.size() < 2) return;
    // Online, but not one of steer.cpus.
    EXPECT_EQ(only_error(with_rule("{action: steer, to: cpu, cpu: 1}", "steer:\n  cpus: [0]\n")),
              "t.yaml:5:37: error: cpu 1 is not in steer.cpus (0) (rule 1)");
}

TEST(SteerConfig, SectionErrors) {
    EXPECT_EQ(only_error(kIf + "steer:\n  cpus: []\n"),
              "t.yaml:4:9: error: cpus is empty: list the CPUs to spread flows over, or leave it out for all "
              "online CPUs");
    EXPECT_EQ(only_error(kIf + "steer:\n  cpus: 3\n"), "t.yaml:4:9: error: cpus must be a list of CPU numbers, got '3'");
    EXPECT_EQ(only_error(kIf + "steer:\n  cpus: [0, 0]\n"), "t.yaml:4:13: error: cpu 0 is listed twice");
    EXPECT_EQ(only_error(kIf + "steer:\n  queue_size: 0\n"), "t.yaml:4:15: error: queue_size 0 is out of range 1-16384");
    EXPECT_EQ(only_error(kIf + "steer:\n  queue_size: 20000\n"),
              "t.yaml:4:15: error: queue_size 20000 is out of range 1-16384");
    EXPECT_EQ(only_error(kIf + "steer:\n  no_socket: reject\n"),
              "t.yaml:4:14: error: no_socket must be pass or drop, got 'reject'");
    EXPECT_EQ(only_error(kIf + "steer:\n  cpu: [0]\n"),
              "t.yaml:4:3: error: unknown steer key 'cpu', did you mean 'cpus'?");
}

}  // namespace
