// xdpd-bench: ns/packet of the xdpd data plane, measured with BPF_PROG_TEST_RUN
// beside baselines (bare XDP_DROP / XDP_PASS) and xdp-filter, in one run.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "bench/cases.hpp"
#include "bench/measure.hpp"
#include "bench/report.hpp"
#include "bench/scrape_bench.hpp"
#include "bpf/libbpf_log.hpp"

namespace {

const char* kMethod = R"(Measures the cost of an XDP program per packet with BPF_PROG_TEST_RUN: the
real program, JIT-compiled, in the real kernel, run `--repeat` times back to
back on one packet; the kernel reports its own average duration per run (integer
ns). Each measurement is the median of `--trials` such calls, after a warm-up
call, with this process pinned to one CPU. Every case of the list runs in the
same process, so the figures sit beside baselines measured moments apart.

What it measures: the program's instructions, its map lookups and helper calls,
cache-hot (the same packet, the same hash buckets, every run), plus the fixed
cost of the test-run loop itself (~20-25 ns a run on a small VM; see the bare
XDP_DROP baseline). What it does not: no NIC, no driver, no DMA, no page
allocation, no cache misses from real traffic; the packet is not copied per run.
Use it to compare programs and rule sets, not to predict line rate.

Packets: TCP/IPv4 from 198.51.100.7:40000 to 203.0.113.10:443 that no rule
matches (the worst case for tuple space search: one hash lookup per tuple), at
64 B and 1500 B; and the same from 100.64.0.1, denied by rule 0 ("hit").
fw:N rule sets use the same 8 match shapes for every N >= 8, so that N changes
only how many entries each shape holds. xdp-filter runs on a scratch interface
(dummy, or veth without the dummy driver) loaded with `xdp-filter load IF -m
skb`, always unloaded and deleted afterwards; the attached program is timed
with the same packets. Needs root.

Cases (--cases, comma-separated, in the order given):
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace xdpd::bench;
    CLI::App app{"xdpd-bench: ns/packet of the xdpd data plane with BPF_PROG_TEST_RUN, beside "
                 "baselines and xdp-filter"};
    app.footer(std::string("\n") + kMethod + case_help() +
               "\nExample: xdpd-bench --repeat 1000000 --trials 5\n"
               "         xdpd-bench --cases drop,fw:10,fw:10000 --json > bench.json\n"
               "         xdpd-bench --cases drop,off,lb          # the load balancer beside its baselines\n"
               "         xdpd-bench --cases drop,off,observe     # the observe stage, interleaved rounds\n"
               "         xdpd-bench scrape --json                # /metrics latency of the real daemon, 0/1k/10k rules");

    BenchOptions opts;
    std::string cases_arg = "default";
    bool json = false, no_xdp_filter = false, check = false, quiet = false;
    int cpu = -1;
    app.add_option("--repeat", opts.measure.repeat, "Runs per BPF_PROG_TEST_RUN call (kernel-timed)")
        ->default_val(1000000)
        ->check(CLI::Range(1u, 100000000u));
    app.add_option("--trials", opts.measure.trials, "Calls per measurement; the median is reported")
        ->default_val(5)
        ->check(CLI::Range(1u, 1000u));
    app.add_option("--cases", cases_arg, "Comma-separated cases to run, in order (see below)")
        ->default_val("default");
    app.add_flag("--json", json, "Print JSON on stdout instead of the table");
    app.add_flag("--no-xdp-filter", no_xdp_filter, "Skip the xdp-filter cases (reported as skipped)");
    app.add_option("--cpu", cpu, "CPU to pin to (default: the last one allowed)");
    app.add_option("--xdp-filter-cli-addresses", opts.xdp_filter_cli_addresses,
                   "Addresses added through xdp-filter's CLI, one process each (~2 ms); the rest "
                   "go into its pinned map in one batch, with the value the CLI wrote")
        ->default_val(16);
    app.add_option("--lb-calls", opts.lb_calls, "lb cases: BPF_PROG_TEST_RUN calls (one run each) per trial")
        ->default_val(100000)
        ->check(CLI::Range(1u, 10000000u));
    app.add_option("--observe-rounds", opts.observe_rounds,
                   "observe cases: interleaved rounds (each case once per round, --repeat runs)")
        ->default_val(15)
        ->check(CLI::Range(1u, 1000u));
    ScrapeOptions so;
    auto* scrape = app.add_subcommand(
        "scrape", "Instead of the cases: scrape the real daemon's /metrics in a fresh namespace with N firewall "
                  "rules (latency median/p90/max, bytes, series, the daemon's own render time)");
    scrape->fallthrough();  // --json, -q after `scrape` too
    scrape->add_option("--rules", so.rules, "Rule counts, comma-separated")->delimiter(',')->default_str("0,1000,10000");
    scrape->add_option("--scrapes", so.scrapes, "Timed scrapes per rule count")->default_val(50)->check(CLI::Range(1u, 100000u));
    scrape->add_option("--warmup", so.warmup, "Untimed scrapes first")->default_val(3);
    scrape->add_option("--xdpd", so.xdpd_binary, "The xdpd binary (default: ../xdpd next to this one, else PATH)");
    scrape->add_option("--listen", so.listen, "metrics.listen inside the namespace")->default_val("127.0.0.1:9100");
    app.add_flag("--check", check, "Exit with status 3 if cost(fw:10000)/cost(fw:10) > 1.3");
    app.add_flag("-q,--quiet", quiet, "No progress on stderr");
    CLI11_PARSE(app, argc, argv);

    if (scrape->parsed()) {
        if (so.rules.empty()) so.rules = {0, 1000, 10000};
        if (so.xdpd_binary.empty()) so.xdpd_binary = default_xdpd_binary();
        so.verbose = !quiet;
        install_interrupt_handlers();
        try {
            auto rs = run_scrape(so);
            if (json)
                std::cout << render_scrape_json(rs, so).dump(2) << std::endl;
            else
                std::cout << render_scrape_table(rs, so);
            for (const auto& r : rs)
                if (!r.ok) return 1;
            return 0;
        } catch (const Interrupted&) {
            std::fprintf(stderr, "xdpd-bench scrape: interrupted; cleaned up\n");
            return 130;
        }
    }

    std::vector<CaseSpec> cases;
    try {
        cases = parse_cases(cases_arg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpd-bench: %s\n", e.what());
        return 2;
    }
    opts.xdp_filter = !no_xdp_filter;
    opts.verbose = !quiet;
    if (geteuid() != 0)
        std::fprintf(stderr, "xdpd-bench: warning: not root; loading BPF programs will likely fail\n");

    xdpd::bpf::install_libbpf_logger();
    install_interrupt_handlers();
    std::vector<std::string> args(argv, argv + argc);
    args[0] = "xdpd-bench";
    int pinned;
    try {
        pinned = pin_to_cpu(cpu);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpd-bench: %s\n", e.what());
        return 1;
    }
    RunInfo info = RunInfo::collect(pinned, fmt::format("{}", fmt::join(args, " ")), opts.measure);
    if (!quiet)
        std::fprintf(stderr, "xdpd-bench: pinned to CPU %d; repeat %u, %u trials\n", pinned,
                     opts.measure.repeat, opts.measure.trials);

    std::vector<CaseResult> results;
    std::optional<ObserveReport> observe_report;
    try {
        Runner runner(opts);
        results = runner.run_all(cases);
        if (const ObserveReport* o = runner.observe_report()) observe_report = *o;
    } catch (const Interrupted&) {
        std::fprintf(stderr, "xdpd-bench: interrupted; cleaned up\n");
        return 130;
    }

    if (json) {
        auto j = render_json(info, results, opts);
        if (observe_report) j["observe"] = render_observe_json(*observe_report);
        std::cout << j.dump(2) << std::endl;
    } else {
        std::cout << render_table(info, results, opts);
        if (observe_report) std::cout << "\n" << render_observe_table(*observe_report);
    }

    if (check) {
        for (size_t len : opts.frame_sizes)
            if (auto s = scaling_ratio(results, "miss-" + std::to_string(len)); s && *s > kMaxScalingRatio)
                return 3;
    }
    for (const auto& r : results)
        if (r.status == CaseResult::Status::error) return 1;
    return 0;
}
