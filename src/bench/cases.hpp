// The benchmark's cases and the runner that measures them, in one process and
// one run, so that every figure sits beside baselines measured moments apart.
#pragma once
#include <linux/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/lb_bench.hpp"
#include "bench/measure.hpp"
#include "bench/observe_bench.hpp"

namespace xdpd::bench {

enum class CaseKind {
    watch,  // pipeline_off + the mitigation watch stage, one destination prefix watched
    xdp_drop,     // bare `return XDP_DROP` (bpf/baseline.bpf.c)
    xdp_pass,     // bare `return XDP_PASS`
    pipeline_off, // xdpd pipeline, firewall compiled out (parse + stats)
    firewall,     // xdpd pipeline + make_ruleset(rules)
    xdp_filter,   // xdp-filter with make_xdp_filter_ruleset(rules)
    firewall_xf,  // xdpd pipeline + to_xdpd(make_xdp_filter_ruleset(rules))
    ratelimit,    // xdpd pipeline, one allow rule with a per-source limit; `rules` buckets pre-filled
    lb,           // xdpd pipeline + load balancer, one packet kind (`lb`); one run per call (lb_bench.hpp)
    lb_call_drop, // bare XDP_DROP timed like the lb cases (one run per call): their baseline
    lb_call_off,  // xdpd pipeline without LB (parse + stats) timed like the lb cases
    observe,      // the observe stage's states (`observe`), timed in one interleaved rotation (observe_bench.hpp)
};

struct CaseSpec {
    CaseKind kind;
    size_t rules = 0;
    LbCase lb = LbCase::hit4;  // kind lb
    ObserveCase observe = ObserveCase::off;  // kind observe
    std::string name() const;  // "drop", "fw:1000", "xdp-filter:10", "lb4-hit", ... (as --cases takes)
    bool is_lb() const { return kind == CaseKind::lb || kind == CaseKind::lb_call_drop || kind == CaseKind::lb_call_off; }
};

// The default run, in order: drop, pass, off, fw:10, fw:1000, fw:10000,
// xdp-filter:10, xdp-filter:10000, fw-xf:10000.
std::vector<CaseSpec> default_cases();
// Parses a comma-separated list of case names; throws std::invalid_argument.
std::vector<CaseSpec> parse_cases(const std::string& list);
// One line per case name, for --help.
std::string case_help();

// One frame a case is timed on.
struct FrameRun {
    std::string label;   // "miss-64", "miss-1500", "hit-64"
    size_t frame_len = 0;
    bool hit = false;    // from the first blocklisted host (rule 0)
    __u32 expected = 0;  // XDP action the case must return
    Measurement m;
};

struct CaseResult {
    CaseSpec spec;
    enum class Status { ok, skipped, error } status = Status::ok;
    std::string reason;                 // why skipped / failed
    std::string program;                // "xdpd_pipeline (id 42)"
    std::optional<size_t> rules;        // rules as the data plane sees them
    std::optional<size_t> tuples;       // xdpd: match shapes (hash lookups for a miss)
    std::optional<size_t> entries;      // xdpd: classifier entries
    std::vector<std::string> notes;     // set-up details worth printing
    double setup_ms = 0;                // loading + installing the rules
    std::vector<FrameRun> frames;

    const FrameRun* frame(const std::string& label) const;
};

struct BenchOptions {
    MeasureOptions measure;
    std::vector<size_t> frame_sizes{64, 1500};  // miss packet at each size
    bool hit_frame = true;                      // plus the rule-0 packet at the first size
    bool xdp_filter = true;                     // false: xdp-filter cases print "skipped"
    size_t xdp_filter_cli_addresses = 16;       // addresses added through its CLI (rest: batch)
    bool verbose = true;                        // progress on stderr
    __u32 lb_calls = 100000;                    // lb cases: calls (one run each) per trial
    unsigned observe_rounds = 15;               // observe cases: interleaved rounds
};

class Runner {
public:
    explicit Runner(BenchOptions opts);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // Never throws for a failing case (it becomes an error row), only for
    // Interrupted (Ctrl-C) after cleaning up.
    CaseResult run(const CaseSpec& c);
    // Every case in order, except that the observe cases are timed together,
    // interleaved, when the first of them comes up.
    std::vector<CaseResult> run_all(const std::vector<CaseSpec>& cases);
    // The observe rotation's full report, once run_all ran it.
    const ObserveReport* observe_report() const;

private:
    struct State;
    void run_baseline(const CaseSpec& c, CaseResult& r);
    void run_pipeline(const CaseSpec& c, CaseResult& r);
    void run_xdp_filter(const CaseSpec& c, CaseResult& r);
    void run_ratelimit(const CaseSpec& c, CaseResult& r);
    void run_lb(const CaseSpec& c, CaseResult& r);
    void time_frames(int prog_fd, CaseResult& r, __u32 miss_verdict, __u32 hit_verdict);
    void progress(const std::string& msg) const;

    BenchOptions opts_;
    std::unique_ptr<State> st_;
};

}  // namespace xdpd::bench
