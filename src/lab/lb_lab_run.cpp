// `xdpd lab --lb`: the load balancer demo. A client, the balancer and three
// backends in namespaces; xdpd balances a TCP and a UDP service over the
// backends (weights 1:2:3), then one backend dies and the health checks take
// it out while established connections to the others carry on.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "lab/daemon_process.hpp"
#include "lab/lab_run.hpp"
#include "net/lb_lab.hpp"
#include "net/process.hpp"
#include "net/whoami.hpp"

namespace xdpd::lab {
namespace {

using namespace std::chrono_literals;
using net::LbLab;

constexpr int kWeights[] = {1, 2, 3};

std::string lb_config(const DaemonPaths& paths) {
    std::string web, dns;
    for (int i = 0; i < 3; ++i) {
        web += fmt::format("        - {{addr: {}, port: 8080, weight: {}}}\n", LbLab::backend_addr(i, 4), kWeights[i]);
        dns += fmt::format("        - {{addr: {}, port: 5353}}\n", LbLab::backend_addr(i, 4));
    }
    return fmt::format(R"(# xdpd lab --lb: the load balancer on lb0; VIP {vip}
interfaces:
  - name: lb0
lb:
  services:
    - name: web
      vip: {vip}
      proto: tcp
      port: 80
      mode: nat
      health: {{type: tcp, interval: 300ms, timeout: 200ms, rise: 2, fall: 2}}
      backends:
{web}    - name: dns
      vip: {vip}
      proto: udp
      port: 53
      mode: nat
      health: {{type: none}}
      backends:
{dns}daemon:
  socket: {socket}
  bpffs: {bpffs}
  on_exit: detach
)",
                       fmt::arg("vip", LbLab::vip(4)), fmt::arg("web", web), fmt::arg("dns", dns),
                       fmt::arg("socket", paths.socket), fmt::arg("bpffs", paths.bpffs));
}

std::string spread_line(const std::vector<std::string>& names) {
    auto c = net::count_names(names);
    return fmt::format("be1 {:>4}   be2 {:>4}   be3 {:>4}   failed {:>3}", c["be1"], c["be2"], c["be3"], c[""]);
}

}  // namespace

int run_lb_lab(const LabOptions& o) {
    auto t0 = std::chrono::steady_clock::now();
    net::Lab::cleanup_orphans();
    std::cerr << "lab: building namespaces (client, balancer, three backends, switch)\n";
    LbLab lab;
    std::vector<net::WhoamiTcpServer> tcp;
    std::vector<net::WhoamiUdpServer> udp;
    for (int i = 0; i < 3; ++i) {
        tcp.emplace_back(lab.backend(i), 8080, LbLab::backend_name(i));
        udp.emplace_back(lab.backend(i), 5353, LbLab::backend_name(i));
    }
    // veth delivers frames the balancer sends with XDP_TX at once when the
    // switch port runs an XDP program too.
    const std::string obj =
        (std::filesystem::path(o.xdpd_binary).parent_path() / "gen" / "baseline.bpf.o").string();
    if (std::filesystem::exists(obj))
        net::exec_checked(&lab.sw(), {"ip", "link", "set", "dev", LbLab::switch_port_lb(), "xdpdrv", "obj", obj,
                                      "sec", "xdp", "program", "xdp_pass"});

    ScratchDataPlane scratch(o.xdpd_binary, lab.lb().name(), DaemonPaths::for_name(lab.prefix()));
    const DaemonPaths& paths = scratch.paths();
    std::ofstream(paths.config) << lb_config(paths);
    std::cerr << "lab: starting xdpd on " << lab.lb().name() << "/lb0 (config " << paths.config << ")\n";
    DaemonProcess daemon(o.xdpd_binary, lab.lb().name(), paths);

    const std::string vip = LbLab::vip(4);
    std::cerr << "lab: 600 TCP connections and 300 UDP exchanges to the VIP\n";
    auto web = net::whoami_tcp_many(lab.client(), vip, 80, 600, 2s);
    auto dns = net::whoami_udp_many(lab.client(), vip, 53, 300, 2s);
    net::HeldConnections held(lab.client(), vip, 80, 30);

    std::cerr << "lab: be3's web server dies; the health checks notice\n";
    tcp[2].stop();
    bool down = false;
    for (int i = 0; i < 50 && !down; ++i) {
        std::this_thread::sleep_for(100ms);
        const auto st = daemon.call({{"cmd", "lb"}});  // named: a range over a temporary's member dangles
        for (const auto& s : st["services"])
            for (const auto& b : s["backends"])
                down |= s["name"] == "web" && b["backend"] == LbLab::backend_addr(2, 4) + ":8080" &&
                        b["health"] == "down";
    }
    auto after = net::whoami_tcp_many(lab.client(), vip, 80, 300, 2s);
    auto alive = held.check();
    int kept = 0, others = 0;
    for (size_t i = 0; i < alive.size(); ++i)
        if (held.names()[i] != "be3") {
            ++others;
            kept += alive[i];
        }

    auto c_web = net::count_names(web), c_dns = net::count_names(dns), c_after = net::count_names(after);
    const bool ok = c_web[""] == 0 && c_dns[""] == 0 && down && c_after[""] == 0 && c_after["be3"] == 0 &&
                    kept == others;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto lb = daemon.call({{"cmd", "lb"}});
    if (o.json) {
        nlohmann::json j = {{"tcp", c_web}, {"udp", c_dns}, {"tcp_after_be3_died", c_after},
                            {"be3_down", down}, {"held_connections_kept", kept},
                            {"held_connections_to_healthy", others}, {"lb", lb}, {"ok", ok}};
        std::cout << j.dump(2) << std::endl;
    } else {
        std::cout << fmt::format("\nxdpd lab --lb: VIP {} on lb0, backends be1..be3 (NAT, weights 1:2:3 for TCP)\n\n",
                                 vip);
        std::cout << fmt::format("{:<40} {}\n", "600 TCP connections (expect 1:2:3)", spread_line(web));
        std::cout << fmt::format("{:<40} {}\n", "300 UDP exchanges (expect 1:1:1)", spread_line(dns));
        std::cout << fmt::format("{:<40} {}\n", "be3 down by health check", down ? "yes" : "NO");
        std::cout << fmt::format("{:<40} {}\n", "300 TCP connections after", spread_line(after));
        std::cout << fmt::format("{:<40} {} of {} still answer\n", "connections held to be1/be2", kept, others);
        std::cout << "\n" << net::exec(nullptr, {o.xdpd_binary, "--netns", lab.lb().name(), "--socket", paths.socket,
                                                  "lb"}).out;
        std::cout << fmt::format("\n{}; {:.1f} s. Cleaning up.\n", ok ? "all as expected" : "NOT as expected", secs);
    }
    return ok ? 0 : 1;
}

}  // namespace xdpd::lab
