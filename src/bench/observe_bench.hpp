// xdpd-bench's `observe` group: what the observe stage (bpf/observe.h) costs
// per packet with BPF_PROG_TEST_RUN, in its states, beside the program with
// the stage compiled out and a bare XDP_DROP, all measured in ONE rotation.
//
// Every case runs the `off` pipeline (firewall compiled out: parse, shield,
// counters; the same program as xdpd-bench's `off` case) on the benchmark's
// miss frames; only the observe stage and the xdpd_observe map differ:
//   obs-drop         bare `return XDP_DROP` (bpf/baseline.bpf.c)
//   observe-out      cfg_observe = 0: the stage compiled out
//   observe-off      compiled in, xdpd_observe all zero (nothing asked for)
//   capture-nomatch  a capture whose filter matches no packet (proto 47)
//   capture-1in100   a capture of every packet (tcp dport 443), 1 in 100 sent
//   capture-all      every packet sent to the perf buffer, snaplen 128
//   capture-all-wm   the same, the perf buffer opened with wakeup_events = 0
//                    (woken at half full) instead of libbpf's one wakeup per
//                    record: what the wakeups cost
//   top-sample       top_sample = 64 (the daemon's default source_sample)
// A perf buffer (libbpf perf_buffer__new, as `xdpd capture` opens it; raw for
// capture-all-wm) is open on xdpd_capture_events and drained after every
// test-run call; capture calls are cut into chunks the
// buffer can hold, so that every output succeeds (checked: capture_lost
// stays 0, every record is read back with the expected caplen).
//
// Rounds: each round times every case once (each frame size, `runs` runs),
// in the given order on even rounds and reversed on odd ones (A B B A), so
// that slow drift of the machine hits every case alike. A case's figure is
// the median over rounds; its spread is max - min. Cases are compared by
// paired per-round differences (same round, moments apart).
#pragma once
#include <linux/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xdpd::bench {

enum class ObserveCase { drop, out, off, capture_nomatch, capture_1in100, capture_all, capture_all_wm, top_sample };

const char* observe_case_name(ObserveCase c);  // "obs-drop", "observe-out", ...
const std::vector<ObserveCase>& observe_cases();
std::optional<ObserveCase> observe_case_by_name(const std::string& name);
std::string observe_case_help();

struct ObserveOptions {
    __u32 runs = 1'000'000;   // program runs per case, frame size and round
    __u32 warmup = 100'000;   // untimed runs per case and frame size first
    unsigned rounds = 15;
    std::vector<size_t> frame_sizes{64, 1500};
    __u32 snaplen = 128;      // capture cases
    size_t perf_pages = 1024; // perf buffer pages per CPU (4 MiB)
    bool verbose = true;
};

// What the data plane counted while a case was timed (sums over its rounds).
struct ObserveCounters {
    uint64_t runs = 0;          // program runs timed
    uint64_t calls = 0;         // BPF_PROG_TEST_RUN calls they took
    uint64_t seen = 0, sent = 0, lost = 0;  // xdpd_observe_cpu capture_*
    uint64_t records = 0;       // records read from the perf buffer
    uint64_t top_packets = 0;   // xdpd_top_sources: the sender's sampled packets
};

struct ObserveResult {
    ObserveCase c;
    std::string program;                          // "xdpd_pipeline (id 42)"
    __u32 verdict = 0;
    std::map<size_t, std::vector<double>> round_ns;  // frame length -> ns per run, per round
    std::map<size_t, __u32> chunk;                // runs per test-run call, per frame length
    ObserveCounters counters;
    std::vector<std::string> notes;
};

struct ObserveReport {
    ObserveOptions opts;
    std::vector<ObserveResult> cases;  // in the order asked for
    std::string pipeline;              // what every pipeline case loads
    double setup_ms = 0;
    const ObserveResult* find(ObserveCase c) const;
};

// Runs the rotation; throws on a failed check (a case that does not take the
// path it claims) or Interrupted.
ObserveReport run_observe(const std::vector<ObserveCase>& cases, const ObserveOptions& o);

std::string render_observe_table(const ObserveReport& r);
nlohmann::json render_observe_json(const ObserveReport& r);

// Statistics the report uses (exposed for the scrape benchmark too).
struct Summary {
    double median = 0, min = 0, max = 0;
    size_t n = 0;
};
Summary summarize(std::vector<double> v);
// Two-sided sign test: probability of a split at least this uneven between
// `pos` and `neg` (ties left out) if both were equally likely.
double sign_test_p(size_t pos, size_t neg);

}  // namespace xdpd::bench
