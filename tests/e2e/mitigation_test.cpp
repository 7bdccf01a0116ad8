// Automatic mitigation end to end: the real daemon on srv0 watches the
// traffic hping3 sends from the attacker namespace, detects the attack by
// itself, escalates (rate-limit profile, SYN cookies switched on, the heaviest
// source banned), runs the hook, and de-escalates once the flood has stopped
// for the cooldown. Also across a kill -9 in the middle of an attack.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"
#include "xdpd/abi.h"

namespace xdpd::test {
namespace {

class Mitigation : public Daemon {
protected:
    void SetUp() override {
        Daemon::SetUp();
        deliver_xdp_tx();
        hook_log_ = "/tmp/xdpd-hook-" + lab_.prefix() + ".log";
        std::remove(hook_log_.c_str());
    }
    void TearDown() override {
        Daemon::TearDown();
        std::remove(hook_log_.c_str());
    }

    void start_with(const std::string& thresholds) {
        write_config(R"(interfaces:
  - name: srv0
shield:
  limits:
    - name: flood
      per_source: {pps: 100, burst: 100}
syncookies:
  mode: auto
  ports: [80]
mitigation:
  smoothing: 1s
  cooldown: 2s
  sample: 1
  hook: 'echo "$1 $2 $XDPD_PREFIXES" >> )" + hook_log_ + R"('
  thresholds: )" + thresholds + R"(
  actions:
    limit: flood
    syncookies: true
    ban: {top: 3, over_pps: 2000, duration: 5m}
)");
        start();
    }

    nlohmann::json watch() { return daemon_->call({{"cmd", "mitigation"}})["watches"][0]; }
    // A connection that must succeed: a generous timeout, the VM may be busy.
    bool connects() { return net::tcp_exchange(lab_.client(), Lab::server_addr(4), 80, "x", 3s); }
    // Polls the default watch's state until it is `state`; false on timeout.
    bool wait_state(const std::string& state, std::chrono::seconds timeout) {
        for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
            if (watch()["state"] == state) return true;
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }
    nlohmann::json events_of(const std::string& type) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& e : daemon_->call({{"cmd", "events"}}))
            if (e["type"] == type) out.push_back(e);
        return out;
    }
    // The hook's log once it has `lines` lines (hooks run in the background).
    std::string hook_calls(long lines) {
        std::string text;
        for (int i = 0; i < 30; ++i) {
            std::ifstream in(hook_log_);
            std::stringstream ss;
            ss << in.rdbuf();
            text = ss.str();
            if (std::count(text.begin(), text.end(), '\n') >= lines) break;
            std::this_thread::sleep_for(100ms);
        }
        return text;
    }

    std::string hook_log_;
};

TEST_F(Mitigation, UdpFloodFromOneSourceIsDetectedBannedAndEnds) {
    start_with("{udp_pps: 5000, syn_pps: 2000}");
    ASSERT_EQ(watch()["state"], "normal");
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(connects()) << "ordinary traffic is no attack";
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(watch()["state"], "normal");
    {
        auto hping = flood({"--udp", "-p", "9999"});
        ASSERT_TRUE(wait_state("attack", 10s)) << "no attack detected; rates: " << watch().dump();
        auto w = watch();
        EXPECT_EQ(w["in_force"]["limit"], "flood");
        EXPECT_TRUE(w["in_force"]["syncookies"].get<bool>());
        // The heaviest source is banned within a few seconds.
        bool banned = false;
        for (int i = 0; i < 30 && !banned; ++i) {
            for (const auto& b : daemon_->call({{"cmd", "ban"}, {"op", "list"}}))
                banned |= b["prefix"] == Lab::attacker_addr(4) + "/32" && b["origin"] == "auto";
            if (!banned) std::this_thread::sleep_for(200ms);
        }
        EXPECT_TRUE(banned) << "the attacker was not banned; watch: " << watch().dump();
        std::this_thread::sleep_for(1s);
        EXPECT_GT(reason_packets("banned"), 1000u) << "its packets are dropped by the ban";
        EXPECT_EQ(watch()["state"], "attack") << "the flood still arrives: the attack goes on";
        EXPECT_TRUE(connects()) << "the client is not affected";

        // `xdpd status` shows the limiter, the bans and what the tables hold.
        auto st = daemon_->call({{"cmd", "status"}});
        EXPECT_GT(st["limiter"]["dropped"]["per_source"].get<uint64_t>(), 0u) << "the attack's limit profile";
        EXPECT_GE(st["limiter"]["buckets"].get<uint64_t>(), 1u);
        EXPECT_EQ(st["limiter"]["buckets_max"].get<uint64_t>(), XDPD_MAX_BUCKETS);
        EXPECT_EQ(st["mitigation"]["under_attack"], nlohmann::json::array({"default"}));
        EXPECT_EQ(st["syncookies"]["mode"], "auto");
        for (const auto& m : st["maps"])
            if (m["name"] == "xdpd_bans") {
                EXPECT_GE(m["entries"].get<uint64_t>(), 1u);
                EXPECT_EQ(m["memory_estimate_bytes"].get<uint64_t>(), 2 * 128 * m["entries"].get<uint64_t>())
                    << "two 128-byte trie nodes per ban";
            }
        auto cli = daemon_->cli({"status"});
        EXPECT_NE(cli.out.find("UNDER ATTACK: default"), std::string::npos) << cli.out;
        EXPECT_NE(cli.out.find("rate limits: profiles [flood]"), std::string::npos) << cli.out;
    }
    ASSERT_TRUE(wait_state("normal", 20s)) << "the attack did not end after the flood stopped";
    auto w = watch();
    EXPECT_FALSE(w["in_force"]["syncookies"].get<bool>());
    EXPECT_TRUE(w["in_force"]["limit"].is_null());

    auto start = events_of("attack_start");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(start[0]["watch"], "default");
    EXPECT_NE(start[0]["trigger"][0].get<std::string>().find("udp_pps"), std::string::npos) << start[0].dump();
    auto end = events_of("attack_end");
    ASSERT_EQ(end.size(), 1u);
    EXPECT_GT(end[0]["peak"]["udp_pps"].get<double>(), 5000);
    EXPECT_GE(end[0]["bans"].get<int>(), 1);
    EXPECT_EQ(end[0]["top_sources"][0]["source"], Lab::attacker_addr(4) + "/32");
    EXPECT_GT(end[0]["duration_s"].get<double>(), 2);
    ASSERT_GE(events_of("ban").size(), 1u);
    EXPECT_EQ(events_of("ban")[0]["source"], Lab::attacker_addr(4) + "/32");

    EXPECT_EQ(hook_calls(2), "attack_start default *\nattack_end default *\n");
    auto cli = daemon_->cli({"events"});
    EXPECT_TRUE(cli.ok()) << cli.err;
    EXPECT_NE(cli.out.find("attack_end"), std::string::npos) << cli.out;
}

TEST_F(Mitigation, SynFloodSwitchesSynCookiesOnWhileClientsConnect) {
    start_with("{syn_pps: 2000}");
    ASSERT_TRUE(connects());
    EXPECT_EQ(reason_packets("syncookie_sent"), 0u) << "mode auto: no cookies without an attack";
    {
        auto hping = flood({"-S", "-p", "80", "--rand-source"});
        ASSERT_TRUE(wait_state("attack", 10s)) << watch().dump();
        EXPECT_GT(watch()["rates"]["sources"].get<double>(), 1000) << "random sources are counted";
        std::this_thread::sleep_for(1s);
        int ok = 0;
        for (int i = 0; i < 10; ++i)
            ok += net::tcp_exchange(lab_.client(), Lab::server_addr(4), 80, std::string(1000, 'm'), 4s);
        EXPECT_GE(ok, 9) << "clients connect while XDP answers the flood";
        EXPECT_GT(reason_packets("syncookie_sent"), 1000u) << "XDP answers the flood since the attack began";
        EXPECT_TRUE(events_of("ban").empty()) << "no spoofed source sends enough to be banned";
        auto st = daemon_->call({{"cmd", "status"}});
        EXPECT_GT(st["syncookies"]["sent"].get<uint64_t>(), 1000u);
        EXPECT_GE(st["syncookies"]["validated"].get<uint64_t>(), 9u) << "the clients' cookie ACKs";
    }
    ASSERT_TRUE(wait_state("normal", 20s));
    const auto sent = reason_packets("syncookie_sent");
    EXPECT_TRUE(connects());
    EXPECT_EQ(reason_packets("syncookie_sent"), sent) << "cookies off again after the attack";
}

TEST_F(Mitigation, ARestartedDaemonAdoptsTheAttackAndEndsIt) {
    start_with("{udp_pps: 5000}");
    {
        auto hping = flood({"--udp", "-p", "9999"});
        ASSERT_TRUE(wait_state("attack", 10s));
        daemon_->kill9();
        start();  // the data plane kept the attack's state meanwhile
        EXPECT_EQ(watch()["state"], "attack");
        EXPECT_EQ(watch()["in_force"]["limit"], "flood");
        ASSERT_EQ(events_of("attack_adopted").size(), 1u);
    }
    ASSERT_TRUE(wait_state("normal", 20s)) << "an adopted attack ends like any other";
    EXPECT_TRUE(watch()["in_force"]["limit"].is_null());
    EXPECT_EQ(events_of("attack_end").size(), 1u);
}

}  // namespace
}  // namespace xdpd::test
