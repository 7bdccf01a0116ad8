// The load balancer between two interfaces: clients on lb0, backends behind
// lb1 (LbLab::Links::two). Requests go out with XDP_REDIRECT through the
// devmap to lb1, replies back to lb0.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "lab/daemon_process.hpp"
#include "net/lb_lab.hpp"
#include "net/process.hpp"
#include "net/whoami.hpp"

namespace xdpd::test {
namespace {
using namespace std::chrono_literals;
using net::LbLab;

TEST(LbRedirect, TcpAndUdpThroughASecondInterface) {
    LbLab lab(LbLab::Links::two);
    lab::ScratchDataPlane scratch(XDPD_BINARY, lab.lb().name(), lab::DaemonPaths::for_name(lab.prefix()));
    const auto& paths = scratch.paths();
    std::vector<net::WhoamiTcpServer> tcp;
    std::vector<net::WhoamiUdpServer> udp;
    for (int i = 0; i < lab.n_backends(); ++i) {
        tcp.emplace_back(lab.backend(i), 8080, LbLab::backend_name(i));
        udp.emplace_back(lab.backend(i), 5353, LbLab::backend_name(i));
    }
    // veth delivers a redirected or transmitted frame at once when its peer
    // runs an XDP program.
    const std::string obj = (std::filesystem::path(XDPD_BINARY).parent_path() / "gen" / "baseline.bpf.o").string();
    for (const auto& port : {LbLab::switch_port_lb(), LbLab::switch_port_lb_backend()})
        net::exec_checked(&lab.sw(), {"ip", "link", "set", "dev", port, "xdpdrv", "obj", obj, "sec", "xdp", "program",
                                      "xdp_pass"});
    std::string backends;
    for (int i = 0; i < lab.n_backends(); ++i) backends += "{addr: " + LbLab::backend_addr(i, 4) + ", port: 8080}, ";
    std::string ubackends;
    for (int i = 0; i < lab.n_backends(); ++i) ubackends += "{addr: " + LbLab::backend_addr(i, 4) + ", port: 5353}, ";
    std::ofstream(paths.config) << "interfaces:\n  - name: lb0\n  - name: lb1\nlb:\n  services:\n"
                                << "    - {name: web, vip: " << LbLab::vip(4) << ", port: 80, backends: [" << backends
                                << "]}\n"
                                << "    - {name: dns, vip: " << LbLab::vip(4) << ", proto: udp, port: 53, backends: ["
                                << ubackends << "]}\n"
                                << "daemon:\n  socket: " << paths.socket << "\n  bpffs: " << paths.bpffs << "\n";
    lab::DaemonProcess daemon(XDPD_BINARY, lab.lb().name(), paths, {});

    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab.client(), LbLab::vip(4), 80, 300, 2s, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors) << "\n" << daemon.log();
    for (const char* b : {"be1", "be2", "be3"}) EXPECT_GT(count[b], 50) << net::describe_names(names);
    auto unames = net::whoami_udp_many(lab.client(), LbLab::vip(4), 53, 150, 2s, &errors);
    EXPECT_EQ(net::count_names(unames)[""], 0) << net::describe_errors(errors);

    // Requests left through lb1 and replies through lb0: both redirected.
    auto stats = daemon.call({{"cmd", "stats"}});
    uint64_t redirected = 0, forwarded = 0, replies = 0;
    for (const auto& i : stats["interfaces"]) {
        redirected += i["actions"]["redirect"]["packets"].get<uint64_t>();
        forwarded += i["reasons"]["lb_forward"]["packets"].get<uint64_t>();
        replies += i["reasons"]["lb_reply"]["packets"].get<uint64_t>();
    }
    EXPECT_GE(forwarded, 300u * 3 + 150u);
    EXPECT_GE(replies, 300u * 2 + 150u);
    EXPECT_EQ(redirected, forwarded + replies) << "every LB packet changed interfaces";
}

}  // namespace
}  // namespace xdpd::test
