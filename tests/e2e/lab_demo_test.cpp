// The demos the README promises (`scripts/demo.sh`): `xdpd lab` and
// `xdpd lab --lb` run to the end, clean up, and say what they showed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "net/process.hpp"

namespace xdpd::test {
namespace {

nlohmann::json run_demo(std::vector<std::string> args) {
    std::vector<std::string> argv = {XDPD_BINARY, "lab", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = net::exec(nullptr, argv, std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
        return {};
    }
}

TEST(LabDemo, FirewallProbesAsPromised) {
    auto j = run_demo({});
    EXPECT_EQ(j.value("ok", false), true) << j.dump(1);
    EXPECT_GE(j["probes"].size(), 10u);
}

TEST(LabDemo, LoadBalancerSpreadsAndFailsOver) {
    auto j = run_demo({"--lb"});
    ASSERT_EQ(j.value("ok", false), true) << j.dump(1);
    EXPECT_EQ(j["tcp"]["be1"].get<int>() + j["tcp"]["be2"].get<int>() + j["tcp"]["be3"].get<int>(), 600);
    EXPECT_GT(j["tcp"]["be3"].get<int>(), j["tcp"]["be1"].get<int>()) << "weights 1:2:3";
    EXPECT_EQ(j["tcp_after_be3_died"].value("be3", 0), 0);
    EXPECT_TRUE(j["be3_down"].get<bool>());
    EXPECT_EQ(j["held_connections_kept"], j["held_connections_to_healthy"]);
}

}  // namespace
}  // namespace xdpd::test
