// xdpd-livebench: packets per second an attacked interface drops, live, with
// xdpd beside a bare XDP_DROP program and nftables; and (--memory) what xdpd's
// tables cost when full.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bench/lb_rps.hpp"
#include "bench/live_report.hpp"
#include "bench/live_run.hpp"
#include "bench/measure.hpp"
#include "bench/table_memory.hpp"
#include "bpf/libbpf_log.hpp"

namespace {

const char* kMethod = R"(Method: two network namespaces joined by a veth pair. The sender injects a
UDP flood (the lab attacker's, 10.77.0.3 -> 10.77.0.1:9) with BPF_PROG_TEST_RUN
in live-frames mode (XDP_TX out of its veth end: what xdp-trafficgen does,
whose 1.3.1 release does not load on this kernel), pinned to --gen-cpu. The
receiver's veth end runs its NAPI in a kernel thread pinned to --rx-cpu (or,
with --rx-cpu -1, in softirq on the sender's CPU). Each case puts one drop
mechanism on the receiver, floods for a warm-up and then --seconds, and
divides its own drop counter's increase by the measured interval. The sender's
veth counters show how many frames reached the receiver's ring and how many
were lost because it was full (the receiver was the bottleneck).
A veth is not a NIC: no DMA, no interrupts, no descriptor rings; the frames
are built by the kernel on the sender's CPU. Compare rows of one run.

--sockets (AF_XDP vs standard sockets vs DPDK): the same flood, received by
a userspace application that counts and drops each packet: an AF_XDP socket
fed by xdpd's steer rule (xsk-rxdrop) or by a bare redirect program
(xsk-bare), an AF_PACKET TPACKET_V3 ring, a UDP socket read with recvmmsg,
and Debian's dpdk-testpmd (package dpdk-dev) in rxonly mode with its
net_af_packet and net_af_xdp drivers; the bare XDP_DROP row is the ceiling.
CPU placement: generator alone on --gen-cpu; the receiver's NAPI thread AND
the receiving thread (testpmd: its forwarding lcore; its main lcore sleeps
on --gen-cpu) share --rx-cpu (--app-cpu to move the application). Per case
it reports received Mpps, the frames lost on the way (veth ring full; socket
full), the busy time of the receive side's CPU from /proc/stat (any task
there), the NAPI thread's and the application's own CPU time (schedstat),
and received packets per CPU-second of those two: the efficiency figure.
Caveats: a veth has no zero-copy AF_XDP driver: every AF_XDP socket here
runs in COPY mode (the kernel copies each frame into the UMEM), so this
understates AF_XDP on a NIC with zero-copy; there is no NIC, DMA or IRQ; the
machine has 2 vCPUs, so a busy-polling receiver (testpmd) competes with the
NAPI thread for the one receive CPU. A case that cannot run (no
dpdk-testpmd, a driver that does not start) is reported as "failed: <reason>".

Cases (--cases, comma-separated, in the order given):
)";

std::string default_xdpd() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto p = self.parent_path().parent_path() / "xdpd";  // build/bench/xdpd-livebench -> build/xdpd
        if (std::filesystem::exists(p)) return p.string();
    }
    return "xdpd";
}

}  // namespace

int main(int argc, char** argv) {
    using namespace xdpd::bench;
    CLI::App app{"xdpd-livebench: Mpps an attacked interface drops, live on a veth, with xdpd beside a bare "
                 "XDP_DROP and nftables; --memory: xdpd's tables at 1M entries"};
    app.footer(std::string("\n") + kMethod + live_case_help() +
               "\nExamples: xdpd-livebench                      # all cases, 5 s each\n"
               "          xdpd-livebench --cases drop,xdpd-fw,nft-ingress --seconds 10 --json\n"
               "          xdpd-livebench --sockets --seconds 5     # AF_XDP vs sockets vs DPDK\n"
               "          xdpd-livebench --memory\n"
               "          xdpd-livebench --lb-rps               # connections/s: VIP vs direct");
    LiveOptions o;
    MemoryOptions mo;
    std::string cases_arg = "default";
    bool json = false, quiet = false, memory = false, check = false;
    app.add_option("--seconds", o.seconds, "Measured interval per case")->default_val(5.0)->check(CLI::Range(0.1, 600.0));
    app.add_option("--warmup", o.warmup, "Flood before the interval starts")->default_val(0.5)->check(CLI::Range(0.0, 60.0));
    app.add_option("--cases", cases_arg, "Cases to run, in order")->default_val("default");
    app.add_option("--gen-cpu", o.gen_cpu, "CPU of the generator")->default_val(0);
    app.add_option("--gen-procs", o.gen_procs, "Generator processes sharing --gen-cpu")
        ->default_val(2)
        ->check(CLI::Range(1, 16));
    app.add_option("--rx-cpu", o.rx_cpu, "CPU of the receiver's NAPI thread (-1: softirq on the generator's CPU)")
        ->default_val(1);
    app.add_option("--app-cpu", o.app_cpu, "--sockets: CPU of the receiving thread / testpmd forwarding lcore "
                                           "(default: --rx-cpu, the NAPI thread's)");
    bool sockets = false;
    app.add_flag("--sockets", sockets, "AF_XDP vs AF_PACKET vs recvmmsg vs DPDK testpmd beside the XDP_DROP baseline "
                                       "(--cases sockets unless --cases is given), with CPU");
    app.add_flag("--rt", o.rt, "Run the generator and the receiver's NAPI thread SCHED_FIFO (priority 1): "
                               "other work on the machine then waits (the kernel keeps 5% for it)");
    app.add_option("--frame-len", o.frame_len, "Frame length without FCS")->default_val(64)->check(CLI::Range(60, 1514));
    app.add_option("--xdpd", o.xdpd_binary, "The xdpd binary (default: ../xdpd next to this one, else PATH)");
    app.add_flag("--json", json, "JSON on stdout instead of the table");
    app.add_flag("--check", check, "Exit 3 unless every case counted all the frames it was handed (within 1%)");
    app.add_flag("--memory", memory, "Instead: fill xdpd_buckets and xdpd_bans, compare `xdpd status` memlock "
                                     "with the kernel's memory accounting");
    app.add_option("--buckets", mo.buckets, "--memory: bucket entries to insert")->default_val(1u << 20);
    app.add_option("--bans", mo.bans, "--memory: /32 bans to insert")->default_val(1u << 20);
    bool lb_rps = false;
    LbRpsOptions ro;
    app.add_flag("--lb-rps", lb_rps, "Instead: TCP connections/s through the load balancer's VIP (NAT) vs the same "
                                     "backends reached directly, in the LB lab");
    app.add_option("--lb-connections", ro.connections, "--lb-rps: connections per measurement")
        ->default_val(12000)->check(CLI::Range(30, 1000000));
    app.add_option("--lb-parallel", ro.parallel, "--lb-rps: connections in flight")->default_val(48)->check(CLI::Range(3, 3000));
    app.add_option("--lb-rounds", ro.rounds, "--lb-rps: measurements per path (median)")->default_val(5)->check(CLI::Range(1, 100));
    app.add_flag("-q,--quiet", quiet, "No progress on stderr");
    CLI11_PARSE(app, argc, argv);

    if (o.xdpd_binary.empty()) o.xdpd_binary = default_xdpd();
    o.sockets = sockets;
    if (sockets && app.get_option("--cases")->count() == 0) cases_arg = "sockets";
    o.verbose = !quiet;
    if (geteuid() != 0) std::fprintf(stderr, "xdpd-livebench: warning: not root; this will fail\n");
    xdpd::bpf::install_libbpf_logger();
    install_interrupt_handlers();
    std::vector<std::string> args(argv, argv + argc);
    args[0] = "xdpd-livebench";

    try {
        if (memory) {
            mo.xdpd_binary = o.xdpd_binary;
            mo.verbose = o.verbose;
            auto r = measure_table_memory(mo);
            if (json)
                std::cout << render_memory_json(r).dump(2) << std::endl;
            else
                std::cout << render_memory_table(r, mo);
            return 0;
        }
        if (lb_rps) {
            ro.xdpd_binary = o.xdpd_binary;
            ro.verbose = o.verbose;
            auto info = RunInfo::collect(-1, fmt::format("{}", fmt::join(args, " ")), MeasureOptions{});
            auto r = run_lb_rps(ro);
            if (json)
                std::cout << render_lb_rps_json(info, r, ro).dump(2) << std::endl;
            else
                std::cout << render_lb_rps(info, r, ro);
            for (const auto& row : r.rows)
                if (row.failed) return 1;
            return 0;
        }
        auto cases = parse_live_cases(cases_arg);
        auto info = RunInfo::collect(o.gen_cpu, fmt::format("{}", fmt::join(args, " ")), MeasureOptions{});
        auto run = run_live(cases, o, info);
        if (json)
            std::cout << render_live_json(run, o).dump(2) << std::endl;
        else
            std::cout << render_live_table(run, o);
        if (check && !check_live(run, 0.01).empty()) return 3;
        for (const auto& r : run.results)
            if (r.status != LiveResult::Status::ok) return 1;
        return 0;
    } catch (const Interrupted&) {
        std::fprintf(stderr, "xdpd-livebench: interrupted; cleaned up\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpd-livebench: %s\n", e.what());
        return 1;
    }
}
