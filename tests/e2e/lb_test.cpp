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
    std::fprintf(stderr, "%s\n", lb_status().dump(1).c_str());
}

}  // namespace
}  // namespace xdpd::test
