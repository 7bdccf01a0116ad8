#include "bench/lb_rps.hpp"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/if_link.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <optional>

#include "baseline.skel.h"
#include "bench/live_topology.hpp"  // NetnsGuard
#include "bench/measure.hpp"
#include "lab/daemon_process.hpp"
#include "net/lb_lab.hpp"
#include "net/link.hpp"
#include "net/whoami.hpp"
#include "util/error.hpp"

namespace xdpd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using net::LbLab;

constexpr uint16_t kVipPort = 80, kBackendPort = 8080, kDirectPort = 8081;

struct BaselineDeleter {
    void operator()(baseline_bpf* s) const { baseline_bpf__destroy(s); }
};

// XDP_TX on lb0 puts frames in the peer's (the switch port's) XDP ring; a
// bare XDP_PASS program there makes the kernel deliver them (a veth drops
// them otherwise).
void deliver_xdp_tx(const LbLab& lab) {
    std::unique_ptr<baseline_bpf, BaselineDeleter> skel(baseline_bpf__open_and_load());
    if (!skel) throw SysError("load bpf/baseline.bpf.c", errno);
    const int idx = net::ifindex(&lab.sw(), LbLab::switch_port_lb());
    NetnsGuard in(lab.sw());  // netlink talks to the namespace of the calling thread
    if (int err = bpf_xdp_attach(idx, bpf_program__fd(skel->progs.xdp_pass), XDP_FLAGS_DRV_MODE, nullptr))
        throw SysError("attach xdp_pass to " + LbLab::switch_port_lb(), -err);
    // The attachment holds the program; it goes with the namespace.
}

std::string config(const std::string& socket, const std::string& bpffs, bool ipv6) {
    std::string s = "interfaces:\n  - name: " + LbLab::lb_if() + "\nlb:\n  services:\n";
    for (int v : ipv6 ? std::vector<int>{4, 6} : std::vector<int>{4}) {
        s += fmt::format("    - name: web{}\n      vip: {}\n      proto: tcp\n      port: {}\n      mode: nat\n"
                         "      backends:\n",
                         v, LbLab::vip(v), kVipPort);
        for (int i = 0; i < LbLab::kDefaultBackends; ++i)
            s += fmt::format("        - addr: {}\n          port: {}\n", LbLab::backend_addr(i, v), kBackendPort);
    }
    return s + "daemon:\n  socket: " + socket + "\n  bpffs: " + bpffs + "\n";
}

struct Batch {
    std::vector<std::string> names;
    std::vector<int> errors;
    double seconds = 0;
};

// n connections to each target (in parallel, one client process per target).
Batch connect_batch(const LbLab& lab, const std::vector<std::string>& targets, uint16_t port, int n, int parallel,
                    std::chrono::milliseconds timeout) {
    Batch b;
    const int k = int(targets.size());
    const auto t0 = Clock::now();
    std::vector<std::future<std::pair<std::vector<std::string>, std::vector<int>>>> parts;
    for (int i = 0; i < k; ++i)
        parts.push_back(std::async(std::launch::async, [&, i] {
            std::vector<int> err;
            auto names = net::whoami_tcp_many(lab.client(), targets[size_t(i)], port, n / k, timeout, &err,
                                              std::max(1, parallel / k));
            return std::make_pair(std::move(names), std::move(err));
        }));
    for (auto& p : parts) {
        auto [names, err] = p.get();
        b.names.insert(b.names.end(), names.begin(), names.end());
        b.errors.insert(b.errors.end(), err.begin(), err.end());
    }
    b.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return b;
}

}  // namespace

double LbRpsRow::median() const {
    std::vector<double> v = rates;
    return bench::median(v);
}

LbRpsRun run_lb_rps(const LbRpsOptions& o) {
    auto say = [&](const std::string& s) {
        if (o.verbose) std::fprintf(stderr, "xdpd-livebench: %s\n", s.c_str());
    };
    LbRpsRun run;
    say("building the LB lab");
    LbLab lab;
    // Many short connections from one client: reuse ports in TIME_WAIT.
    net::set_sysctls(lab.client(), {{"net/ipv4/tcp_tw_reuse", "1"}});
    std::vector<net::WhoamiTcpServer> servers;
    for (int i = 0; i < lab.n_backends(); ++i) {
        servers.emplace_back(lab.backend(i), kBackendPort, LbLab::backend_name(i));
        servers.emplace_back(lab.backend(i), kDirectPort, LbLab::backend_name(i));
    }
    deliver_xdp_tx(lab);

    struct Path {
        LbRpsRow row;
        std::vector<std::string> targets;
        uint16_t port;
        bool with_daemon;
    };
    std::vector<Path> paths;
    std::vector<int> versions = o.ipv6 ? std::vector<int>{4, 6} : std::vector<int>{4};
    for (int v : versions) {
        std::vector<std::string> direct;
        for (int i = 0; i < lab.n_backends(); ++i) direct.push_back(LbLab::backend_addr(i, v));
        const std::string range = v == 4 ? fmt::format("{}-{}:{}", LbLab::backend_addr(0, 4),
                                                       LbLab::backend_addr(lab.n_backends() - 1, 4).substr(8), kDirectPort)
                                         : fmt::format("[{}-{}]:{}", LbLab::backend_addr(0, 6),
                                                       LbLab::backend_addr(lab.n_backends() - 1, 6).substr(6), kDirectPort);
        paths.push_back({{fmt::format("IPv{} direct, no xdpd", v), range}, direct, kDirectPort, false});
        paths.push_back({{fmt::format("IPv{} direct, xdpd on lb0", v), range}, direct, kDirectPort, true});
        paths.push_back({{fmt::format("IPv{} VIP, xdpd NAT", v),
                          v == 4 ? fmt::format("{}:{}", LbLab::vip(4), kVipPort) : fmt::format("[{}]:{}", LbLab::vip(6), kVipPort)},
                         {LbLab::vip(v)}, kVipPort, true});
    }

    auto measure = [&](Path& p) {
        const Batch b = connect_batch(lab, p.targets, p.port, o.connections, o.parallel, o.timeout);
        int ok = 0;
        std::vector<int> failed_errors;
        for (size_t i = 0; i < b.names.size(); ++i) {
            if (b.names[i].empty()) {
                failed_errors.push_back(b.errors[i]);
                continue;
            }
            ++ok;
            ++p.row.per_backend[b.names[i]];
        }
        p.row.ok += ok;
        p.row.failed += int(b.names.size()) - ok;
        if (!failed_errors.empty()) p.row.errors = net::describe_errors(failed_errors);
        p.row.rates.push_back(double(ok) / b.seconds);
        say(fmt::format("  {:<26} {:>8.0f} connections/s ({} of {} in {:.2f} s)", p.row.path, p.row.rates.back(), ok,
                        b.names.size(), b.seconds));
    };
    auto warm = [&](Path& p) { connect_batch(lab, p.targets, p.port, 300, o.parallel, o.timeout); };

    // Rounds interleave every row: the rows without xdpd, then xdpd started,
    // its rows, and xdpd detached again (the data plane removed).
    lab::ScratchDataPlane scratch(o.xdpd_binary, lab.lb().name(), lab::DaemonPaths::for_name(lab.prefix()));
    const auto& dp = scratch.paths();
    std::ofstream(dp.config) << config(dp.socket, dp.bpffs, o.ipv6);
    uint64_t fwd = 0, reply = 0, neigh = 0, no_route = 0, passed = 0;
    for (int r = 0; r < o.rounds; ++r) {
        say(fmt::format("round {} of {}: without xdpd", r + 1, o.rounds));
        for (auto& p : paths)
            if (!p.with_daemon) {
                if (r == 0) warm(p);
                measure(p);
            }
        say(fmt::format("round {} of {}: xdpd on lb0", r + 1, o.rounds));
        lab::DaemonProcess daemon(o.xdpd_binary, lab.lb().name(), dp);
        for (auto& p : paths)
            if (p.with_daemon) {
                warm(p);
                measure(p);
            }
        auto st = daemon.call({{"cmd", "stats"}});
        const auto& reasons = st["interfaces"][0]["reasons"];
        auto n = [&](const char* k) { return reasons[k]["packets"].get<uint64_t>(); };
        fwd += n("lb_forward"), reply += n("lb_reply"), neigh += n("lb_neigh_pass"), no_route += n("lb_no_route");
        passed += n("no_firewall");
        daemon.call({{"cmd", "detach"}});  // exits after removing the data plane
        daemon.stop();
    }
    run.notes.push_back(fmt::format("xdpd's verdicts on lb0, all rounds: lb_forward {}, lb_reply {}, lb_neigh_pass {}, "
                                    "lb_no_route {}; passed to the kernel (not the LB's): {}",
                                    fwd, reply, neigh, no_route, passed));
    for (auto& p : paths) run.rows.push_back(std::move(p.row));
    run.notes.push_back(fmt::format("lab {}: client, LB host and {} backends on one bridge (veth pairs, offloads off)",
                                    lab.prefix(), lab.n_backends()));
    return run;
}

std::string render_lb_rps(const RunInfo& info, const LbRpsRun& run, const LbRpsOptions& o) {
    std::string out;
    auto line = [&](const std::string& s) { out += s + "\n"; };
    line(fmt::format("xdpd-livebench --lb-rps  {}  kernel {}  {}  ({} CPUs, load average {})", info.date, info.kernel,
                     info.cpu_model, info.online_cpus, info.loadavg));
    line(fmt::format("TCP connections/s (connect, read the backend's name, close), {} per measurement, {} in flight, "
                     "median of {} rounds",
                     o.connections, o.parallel, o.rounds));
    line("");
    double direct = 0;
    const std::string head = fmt::format("{:<26} {:<26} {:>9} {:>7} {:>7}  {:<24} {}", "path", "target", "conn/s",
                                         "/direct", "failed", "rounds", "per backend");
    line(head);
    line(std::string(head.size(), '-'));
    for (const auto& r : run.rows) {
        const double m = r.median();
        if (r.path.find("no xdpd") != std::string::npos) direct = m;
        std::vector<std::string> rounds, per;
        for (double x : r.rates) rounds.push_back(fmt::format("{:.0f}", x));
        for (const auto& [name, n] : r.per_backend) per.push_back(fmt::format("{} {}", name, n));
        line(fmt::format("{:<26} {:<26} {:>9.0f} {:>7.2f} {:>7}  {:<24} {}", r.path, r.target, m,
                         direct > 0 ? m / direct : 0.0, r.failed, fmt::format("{}", fmt::join(rounds, " ")),
                         fmt::format("{}", fmt::join(per, ", "))));
        if (!r.errors.empty()) line("    failures: " + r.errors);
    }
    line("");
    line("/direct: relative to the same IP version's direct row without xdpd. Everything (client, LB host, backends,");
    line("the bridge) shares this machine's CPUs: compare rows of one run, do not read them as a NIC's capacity.");
    for (const auto& n : run.notes) line("note: " + n);
    return out;
}

nlohmann::json render_lb_rps_json(const RunInfo& info, const LbRpsRun& run, const LbRpsOptions& o) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : run.rows)
        rows.push_back({{"path", r.path}, {"target", r.target}, {"connections_per_s", r.median()},
                        {"rounds", r.rates}, {"ok", r.ok}, {"failed", r.failed}, {"per_backend", r.per_backend},
                        {"errors", r.errors}});
    return {{"tool", "xdpd-livebench --lb-rps"}, {"date", info.date}, {"kernel", info.kernel},
            {"cpu_model", info.cpu_model}, {"online_cpus", info.online_cpus}, {"loadavg", info.loadavg},
            {"command", info.command}, {"connections", o.connections}, {"parallel", o.parallel},
            {"rounds", o.rounds}, {"rows", rows}, {"notes", run.notes}};
}

}  // namespace xdpd::bench
