// The load balancer end to end: real TCP and UDP from the client namespace to
// VIPs served by xdpd on lb0, answered by ordinary servers in three backend
// namespaces.
#include "e2e/lb_fixture.hpp"

namespace xdpd::test {
namespace {

TEST_F(LbDaemon, NatSpreadsTcpAndUdpByWeight) {
    write_config("  services:\n" +
                 service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 2, 3}, kTcpPort) +
                 service("dns", LbLab::vip(4), "udp", 53, "nat", {1, 1, 1}, kUdpPort, 4,
                         "      health:\n        type: none\n"));
    start();
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 600, 2s, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors) << "\n" << daemon_->call({{"cmd", "stats"}})["interfaces"][0]["reasons"].dump();
    ASSERT_EQ(count["be1"] + count["be2"] + count["be3"], 600) << net::describe_names(names);
    // weights 1:2:3 of 600 flows: 100/200/300, each within 40%
    EXPECT_NEAR(count["be1"], 100, 40) << net::describe_names(names);
    EXPECT_NEAR(count["be2"], 200, 60) << net::describe_names(names);
    EXPECT_NEAR(count["be3"], 300, 70) << net::describe_names(names);

    auto unames = net::whoami_udp_many(lab_.client(), LbLab::vip(4), 53, 300, 2s, &errors);
    auto ucount = net::count_names(unames);
    EXPECT_EQ(ucount[""], 0) << net::describe_errors(errors);
    for (const char* b : {"be1", "be2", "be3"}) EXPECT_NEAR(ucount[b], 100, 45) << net::describe_names(unames);
    auto st = daemon_->call({{"cmd", "status"}})["lb"];
    EXPECT_EQ(st["services"], 2);
    EXPECT_EQ(st["backends"], 6);
    EXPECT_EQ(st["up"], 6);
    EXPECT_GE(st["flows"].get<int>(), 600) << "TCP flows in the connection table";
    EXPECT_GE(st["forwarded"].get<uint64_t>(), 600u * 3);
    EXPECT_GE(st["replies"].get<uint64_t>(), 600u * 2);
    auto show = net::exec(nullptr, {XDPD_BINARY, "--netns", lab_.lb().name(), "--socket", paths_.socket, "lb"});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    EXPECT_NE(show.out.find("web tcp 10.99.0.1:80 (nat)"), std::string::npos) << show.out;
    std::fprintf(stderr, "%s", show.out.c_str());
}

}  // namespace
}  // namespace xdpd::test
