// The shield's ban and allow lists through the real daemon, its CLI and config,
// with real traffic from the lab's client and attacker.
#include <gtest/gtest.h>

#include <thread>

#include "e2e/daemon_fixture.hpp"

namespace xdpd::test {
namespace {

const char* kPlain = "interfaces:\n  - name: srv0\n";


class ShieldE2E : public Daemon {
protected:
    bool attacker_tcp() { return tcp(80, 4, &lab_.attacker()); }
    nlohmann::json bans() { return daemon_->call({{"cmd", "ban"}, {"op", "list"}}); }
};

TEST_F(ShieldE2E, CliBanBlocksAndUnbanRestores) {
    write_config(kPlain);
    start();
    ASSERT_TRUE(attacker_tcp());
    auto r = daemon_->cli({"ban", "add", Lab::attacker_addr(4), "--reason", "port scan"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(attacker_tcp());
    EXPECT_FALSE(ping(4, &lab_.attacker()));
    EXPECT_TRUE(tcp(80)) << "the client is not banned";

    r = daemon_->cli({"ban", "list", "--json"});
    ASSERT_TRUE(r.ok()) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["prefix"], Lab::attacker_addr(4) + "/32");
    EXPECT_GE(j[0]["hits"].get<uint64_t>(), 2u);
    EXPECT_TRUE(j[0]["remaining_s"].is_null());
    EXPECT_EQ(j[0]["reason"], "port scan");
    EXPECT_EQ(j[0]["origin"], "api");
    EXPECT_GE(reason_packets("banned"), 2u);

    r = daemon_->cli({"ban", "del", Lab::attacker_addr(4)});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_TRUE(attacker_tcp());
    r = daemon_->cli({"ban", "del", Lab::attacker_addr(4)});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("is not banned"), std::string::npos) << r.err;
}

TEST_F(ShieldE2E, TimedBanExpiresByItself) {
    write_config(kPlain);
    start();
    auto r = daemon_->cli({"ban", "add", "fd77::3/128", "--for", "2s"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(tcp(80, 6, &lab_.attacker()));
    auto j = bans();
    ASSERT_EQ(j.size(), 1u);
    EXPECT_GT(j[0]["remaining_s"].get<double>(), 0.5);
    EXPECT_LE(j[0]["remaining_s"].get<double>(), 2.0);
    std::this_thread::sleep_for(3500ms);  // the ban ends, and the daemon's sweep removes it
    EXPECT_TRUE(tcp(80, 6, &lab_.attacker()));
    EXPECT_TRUE(bans().empty());
    EXPECT_NE(daemon_->log().find("ban of fd77::3/128 expired"), std::string::npos) << daemon_->log();
}

TEST_F(ShieldE2E, ConfigOwnsItsEntriesAndApiBansSurviveReloadAndRestart) {
    write_config(std::string(kPlain) + R"(shield:
  allow: [10.77.0.2]
  bans:
    - prefix: 10.77.0.0/24
      reason: lab network
)");
    start();
    EXPECT_TRUE(tcp(80)) << "the client is allow-listed inside the banned /24";
    EXPECT_FALSE(attacker_tcp());
    ASSERT_TRUE(daemon_->cli({"ban", "add", "fd77::3"}).ok());

    write_config(kPlain);  // the config's ban and allow entries go; the API's ban stays
    ASSERT_TRUE(daemon_->cli({"reload"}).ok());
    EXPECT_TRUE(attacker_tcp());
    EXPECT_FALSE(tcp(80, 6, &lab_.attacker()));
    ASSERT_EQ(bans().size(), 1u);

    daemon_->kill9();
    EXPECT_FALSE(tcp(80, 6, &lab_.attacker())) << "bans are enforced without the daemon";
    start();
    auto j = bans();
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["prefix"], "fd77::3/128");
    EXPECT_GE(j[0]["hits"].get<uint64_t>(), 2u) << "hits kept across the restart";
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["shield"]["bans"], 1);
}

TEST_F(ShieldE2E, BadPrefixesAreRefusedClearly) {
    write_config(kPlain);
    start();
    auto r = daemon_->cli({"ban", "add", "10.77.0.3/24"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("host bits"), std::string::npos) << r.err;
    r = daemon_->cli({"ban", "add", "10.77.0.3", "--for", "soon"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not a duration"), std::string::npos) << r.err;
    EXPECT_TRUE(bans().empty());
}

}  // namespace
}  // namespace xdpd::test
