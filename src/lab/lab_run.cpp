#include "lab/lab_run.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>

#include "lab/daemon_process.hpp"
#include "lab/lab_config.hpp"
#include "net/lab_topology.hpp"
#include "net/ping.hpp"
#include "net/process.hpp"
#include "net/tcp.hpp"
#include "net/udp.hpp"
#include "stats/snapshot.hpp"

namespace xdpd::lab {
namespace {

using namespace std::chrono_literals;
using Host = net::Lab::Host;

struct Probe {
    std::string name;      // "client  tcp/80  ipv4"
    bool expect_pass;      // with xdpd
    std::string why;       // the rule that decides
    std::function<bool()> run;
    bool before = false, after = false;
};

std::vector<Probe> make_probes(const net::Lab& lab) {
    auto ping = [&](Host h, int v) {
        return [&lab, h, v] { return net::ping(lab.ns(h), net::Lab::server_addr(v), 1, 1s).ok(); };
    };
    auto tcp = [&](Host h, int v, uint16_t port) {
        return [&lab, h, v, port] {
            return net::tcp_exchange(lab.ns(h), net::Lab::server_addr(v), port, "hello", 700ms);
        };
    };
    auto udp = [&](Host h, int v, uint16_t port) {
        return [&lab, h, v, port] {
            return net::udp_exchange(lab.ns(h), net::Lab::server_addr(v), port, "hello", 700ms);
        };
    };
    return {
        {"client   icmp echo    ipv4", true, "default allow", ping(Host::client, 4)},
        {"client   icmpv6 echo  ipv6", false, "no-ping-v6-from-client", ping(Host::client, 6)},
        {"client   tcp/80       ipv4", true, "web (count), default allow", tcp(Host::client, 4, 80)},
        {"client   tcp/80       ipv6", true, "web (count), default allow", tcp(Host::client, 6, 80)},
        {"client   tcp/22       ipv4", false, "no-ssh", tcp(Host::client, 4, 22)},
        {"client   tcp/22       ipv6", false, "no-ssh", tcp(Host::client, 6, 22)},
        {"client   udp/53       ipv4", true, "default allow", udp(Host::client, 4, 53)},
        {"client   udp/15000    ipv4", false, "no-high-udp", udp(Host::client, 4, 15000)},
        {"attacker icmp echo    ipv4", false, "block-attacker", ping(Host::attacker, 4)},
        {"attacker tcp/80       ipv4", false, "block-attacker", tcp(Host::attacker, 4, 80)},
        {"attacker tcp/80       ipv6", false, "block-attacker-v6", tcp(Host::attacker, 6, 80)},
    };
}

// The attacker blasts UDP datagrams at the server; returns how many it sent.
int flood(const net::Lab& lab, int n) {
    return net::run_in(lab.attacker(), [n] {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(9);
        inet_pton(AF_INET, net::Lab::server_addr(4).c_str(), &a.sin_addr);
        char buf[64] = {};
        for (int i = 0; i < n; ++i) sendto(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        return 0;
    });
}

const char* word(bool passed) { return passed ? "passed" : "blocked"; }

}  // namespace

int run_lab(const LabOptions& o) {
    auto t0 = std::chrono::steady_clock::now();
    net::Lab::cleanup_orphans();
    std::cerr << "lab: building namespaces (client, attacker, server, switch)\n";
    net::Lab lab;

    net::TcpServer web(lab.server(), 80), ssh(lab.server(), 22);
    net::UdpEchoServer dns(lab.server(), 53), high(lab.server(), 15000);
    auto probes = make_probes(lab);

    std::cerr << "lab: traffic without xdpd\n";
    for (auto& p : probes) p.before = p.run();

    ScratchDataPlane scratch(o.xdpd_binary, lab.server().name(), DaemonPaths::for_name(lab.prefix()));
    const DaemonPaths& paths = scratch.paths();
    std::ofstream(paths.config) << lab_config(paths.socket, paths.bpffs);
    std::cerr << "lab: starting xdpd on " << lab.server().name() << "/srv0 (config " << paths.config << ")\n";
    DaemonProcess daemon(o.xdpd_binary, lab.server().name(), paths);

    std::cerr << "lab: traffic with xdpd\n";
    for (auto& p : probes) p.after = p.run();
    std::cerr << fmt::format("lab: attacker floods {} UDP datagrams\n", o.flood_packets);
    flood(lab, o.flood_packets);

    auto status = daemon.call({{"cmd", "status"}});
    auto stats = stats::from_json(daemon.call({{"cmd", "stats"}}));
    auto rules = daemon.call({{"cmd", "rules"}});

    int bad = 0;
    for (const auto& p : probes) bad += p.after != p.expect_pass;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (o.json) {
        nlohmann::json j;
        for (const auto& p : probes)
            j["probes"].push_back({{"probe", p.name}, {"without_xdpd", word(p.before)},
                                   {"with_xdpd", word(p.after)}, {"expected", word(p.expect_pass)},
                                   {"rule", p.why}});
        j["status"] = status;
        j["stats"] = stats::to_json(stats);
        j["rules"] = rules;
        j["ok"] = bad == 0;
        std::cout << j.dump(2) << std::endl;
    } else {
        std::string mode = "?";
        for (const auto& i : status["interfaces"]) mode = i.value("mode", "?");
        std::cout << fmt::format("\nxdpd lab: xdpd guards srv0 in {} mode (server 10.77.0.1 / fd77::1)\n\n", mode);
        std::cout << fmt::format("{:<28} {:>14} {:>12}  {:<8} {}\n", "probe", "without xdpd", "with xdpd", "", "decided by");
        for (const auto& p : probes)
            std::cout << fmt::format("{:<28} {:>14} {:>12}  {:<8} {}\n", p.name, word(p.before), word(p.after),
                                     p.after == p.expect_pass ? "ok" : "WRONG", p.why);
        std::cout << "\nwhat the data plane counted on srv0:\n" << stats::format_table(stats, nullptr);
        std::cout << "\nrule hits:\n";
        for (const auto& r : rules)
            std::cout << fmt::format("  {:<24} {:>8} packets  {}\n", r.value("id", ""),
                                     r.value("packets", 0ull), r.value("rule", ""));
        std::cout << fmt::format("\n{} of {} probes as expected; {:.1f} s. Cleaning up.\n",
                                 probes.size() - size_t(bad), probes.size(), secs);
    }
    return bad == 0 ? 0 : 1;
}

}  // namespace xdpd::lab
