// Backends added and removed live through the CLI (`xdpd lb add/remove`):
// new flows follow at once, established flows to the other backends stay.
#include "e2e/lb_fixture.hpp"

namespace xdpd::test {
namespace {

class LbApi : public LbDaemon {
protected:
    net::CmdResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv = {XDPD_BINARY, "--netns", lab_.lb().name(), "--socket", paths_.socket, "lb"};
        argv.insert(argv.end(), args.begin(), args.end());
        return net::exec(nullptr, argv);
    }
    std::map<std::string, int> spread(int n) {
        std::vector<int> errors;
        auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, n, 2s, &errors);
        auto c = net::count_names(names);
        EXPECT_EQ(c[""], 0) << net::describe_errors(errors);
        return c;
    }
};

TEST_F(LbApi, AddAndRemoveBackendsLive) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1}, kTcpPort));
    start();
    auto before = spread(200);
    EXPECT_EQ(before["be3"], 0);
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 40);
    ASSERT_EQ(held.opened(), 40);

    auto r = cli({"add", "web", LbLab::backend_addr(2, 4) + ":8080"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto after_add = spread(300);
    EXPECT_GT(after_add["be3"], 50) << "the added backend takes new flows";

    r = cli({"remove", "web", LbLab::backend_addr(0, 4) + ":8080"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto after_remove = spread(300);
    EXPECT_EQ(after_remove["be1"], 0) << "a removed backend takes no new flows";
    EXPECT_GT(after_remove["be2"], 80);
    EXPECT_GT(after_remove["be3"], 80);

    // Held connections: those on be2 survived both changes; those on be1
    // moved (their backend left), so they are gone.
    auto alive = held.check();
    for (int i = 0; i < held.size(); ++i) {
        if (held.names()[size_t(i)] == "be2") {
            EXPECT_TRUE(alive[size_t(i)]) << "connection " << i << " to be2";
        }
    }

    auto st = lb_status()["services"][0]["backends"];
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[0]["backend"], LbLab::backend_addr(1, 4) + ":8080");
    EXPECT_EQ(st[1]["backend"], LbLab::backend_addr(2, 4) + ":8080");

    // Mistakes are refused with the reason, and change nothing.
    r = cli({"add", "web", LbLab::backend_addr(2, 4) + ":8080"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("already has backend"), std::string::npos) << r.err;
    r = cli({"add", "web", LbLab::backend_addr(0, 6)});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("different IP versions"), std::string::npos) << r.err;
    r = cli({"remove", "web", "10.78.0.99:8080"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("has no backend"), std::string::npos) << r.err;
    r = cli({"add", "nosuch", "10.78.0.99"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no lb service named 'nosuch'"), std::string::npos) << r.err;
    EXPECT_EQ(lb_status()["services"][0]["backends"].size(), 2u);
}

// A service of all ports (DSR) beside a service of one port on another VIP:
// the installer switches the data plane's all-ports lookup on, and a
// connection to any port of that VIP reaches a backend on the same port.
TEST_F(LbDaemon, AllPortServiceKeepsThePort) {
    lab_.enable_dsr({LbLab::vip(4, 1)});
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort) +
                 "    - {name: any, vip: " + LbLab::vip(4, 1) + ", port: all, mode: dsr, backends: [{addr: " +
                 LbLab::backend_addr(0, 4) + "}, {addr: " + LbLab::backend_addr(1, 4) + "}]}\n");
    start();
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4, 1), kTcpPort, 100, 2s, &errors);
    auto c = net::count_names(names);
    EXPECT_EQ(c[""], 0) << net::describe_errors(errors);
    EXPECT_EQ(c["be1"] + c["be2"], 100) << net::describe_names(names);
    names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 60, 2s, &errors);
    EXPECT_EQ(net::count_names(names)[""], 0) << "the one-port service still answers: " << net::describe_errors(errors);
}

}  // namespace
}  // namespace xdpd::test
