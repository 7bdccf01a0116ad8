#include "bench/observe_bench.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "baseline.skel.h"
#include "bench/measure.hpp"
#include "bench/packets.hpp"
#include "bench/rulesets.hpp"
#include "bpf/map.hpp"
#include "bpf/pipeline.hpp"
#include "bpf/test_run.hpp"
#include "util/error.hpp"
#include "xdpd/abi.h"

namespace xdpd::bench {
namespace {

constexpr __u16 kNoSuchProto = 47;  // GRE: no benchmark frame is GRE

struct Named {
    ObserveCase c;
    const char* name;
    const char* help;
};
const Named kCases[] = {
    {ObserveCase::drop, "obs-drop", "bare XDP_DROP, timed in the observe rotation"},
    {ObserveCase::out, "observe-out", "`off` pipeline, observe stage compiled out (cfg_observe = 0)"},
    {ObserveCase::off, "observe-off", "`off` pipeline, stage compiled in, xdpd_observe all zero"},
    {ObserveCase::capture_nomatch, "capture-nomatch", "capture on, filter proto 47: no packet matches"},
    {ObserveCase::capture_1in100, "capture-1in100", "capture on, filter tcp dport 443 (all match), 1 in 100 sent"},
    {ObserveCase::capture_all, "capture-all", "every packet to the perf buffer, snaplen 128, drained"},
    {ObserveCase::capture_all_wm, "capture-all-wm", "capture-all, the perf buffer woken when half full, not per record"},
    {ObserveCase::top_sample, "top-sample", "top_sample = 64: 1 packet in 64 per CPU into xdpd_top_sources"},
};

// The xdpd_observe value a case runs with.
xdpd_observe observe_state(ObserveCase c, __u32 snaplen) {
    xdpd_observe o{};
    switch (c) {
    case ObserveCase::capture_nomatch:
        o.capture = 1;
        o.capture_snaplen = snaplen;
        o.filter.proto = kNoSuchProto;
        break;
    case ObserveCase::capture_1in100:
    case ObserveCase::capture_all:
    case ObserveCase::capture_all_wm:
        o.capture = 1;
        o.capture_sample = c == ObserveCase::capture_1in100 ? 100 : 1;
        o.capture_snaplen = snaplen;
        o.filter.proto = IPPROTO_TCP;  // matches the miss frame: tcp to port 443
        o.filter.dport = kMissDport;
        break;
    case ObserveCase::top_sample: o.top_sample = 64; break;
    default: break;
    }
    if (o.capture) o.capture_owner = __u32(getpid());
    return o;
}

// What the perf buffer's callback counts.
struct Drain {
    uint64_t records = 0, bad = 0, lost = 0;
    __u32 want_caplen = 0;
    static void on_sample(void* ctx, int, void* data, __u32 size) {
        auto* d = static_cast<Drain*>(ctx);
        ++d->records;
        xdpd_capture_hdr h{};
        if (size < sizeof h) {
            ++d->bad;
            return;
        }
        std::memcpy(&h, data, sizeof h);
        if (h.caplen != d->want_caplen || size < sizeof h + h.caplen) ++d->bad;
    }
    static void on_lost(void* ctx, int, __u64 n) { static_cast<Drain*>(ctx)->lost += n; }
    // perf_buffer__new_raw's callback: the same, from the raw perf records.
    static bpf_perf_event_ret on_event(void* ctx, int cpu, perf_event_header* e) {
        struct Sample {
            perf_event_header h;
            __u32 size;
            char data[];
        };
        struct Lost {
            perf_event_header h;
            __u64 id, lost;
        };
        if (e->type == PERF_RECORD_SAMPLE) {
            auto* s = reinterpret_cast<Sample*>(e);
            on_sample(ctx, cpu, s->data, s->size);
        } else if (e->type == PERF_RECORD_LOST) {
            on_lost(ctx, cpu, reinterpret_cast<Lost*>(e)->lost);
        }
        return LIBBPF_PERF_EVENT_CONT;
    }
};

struct PerfBufferDeleter {
    void operator()(perf_buffer* pb) const { perf_buffer__free(pb); }
};
struct BaselineDeleter {
    void operator()(baseline_bpf* s) const { baseline_bpf__destroy(s); }
};

// Sums of xdpd_observe_cpu over CPUs.
xdpd_observe_cpu observe_cpu_sum(const bpf::MapRef& m) {
    bpf::PerCpuMap<__u32, xdpd_observe_cpu> map(m);
    xdpd_observe_cpu s{};
    for (const auto& v : map.lookup_all(0)) {
        s.capture_seen += v.capture_seen;
        s.capture_sent += v.capture_sent;
        s.capture_lost += v.capture_lost;
    }
    return s;
}

// The sender's sampled packets in xdpd_top_sources (0 when absent).
uint64_t top_packets(const bpf::MapRef& m) {
    xdpd_top_key k{};
    k.addr[10] = k.addr[11] = 0xff;
    inet_pton(AF_INET, kMissSrc, &k.addr[12]);
    xdpd_top_count c{};
    if (bpf_map_lookup_elem(m.fd(), &k, &c)) return 0;
    return c.packets;
}

__u32 caplen_for(__u32 snaplen, size_t frame_len) { return __u32(std::min<size_t>(snaplen, frame_len)); }

// Runs per call that a capture at 1 in `sample` can make without filling a
// perf ring of `pages` pages: 3/4 of what it holds.
__u32 capture_chunk(size_t pages, __u32 caplen, __u32 sample, __u32 runs) {
    const size_t ring = pages * size_t(sysconf(_SC_PAGESIZE));
    // perf record: header (8) + raw size (4) + the sample, padded to 8
    const size_t rec = 8 + ((4 + sizeof(xdpd_capture_hdr) + caplen + 7) / 8) * 8;
    const size_t fits = ring / rec * 3 / 4 * std::max<__u32>(sample, 1);
    return __u32(std::clamp<size_t>(fits, 1, runs));
}

class Rotation {
public:
    Rotation(const ObserveOptions& o, ObserveReport& rep) : o_(o), rep_(rep) {
        auto t0 = std::chrono::steady_clock::now();
        baseline_.reset(baseline_bpf__open_and_load());
        if (!baseline_) throw SysError("load bpf/baseline.bpf.c", errno);
        out_ = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = false, .observe = false}));
        in_ = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = false}, out_.get()));
        observe_ = in_->map("xdpd_observe");
        observe_cpu_ = in_->map("xdpd_observe_cpu");
        top_ = in_->map("xdpd_top_sources");
        open_perf_buffer(false);
        for (size_t len : o_.frame_sizes) frames_[len] = miss_frame(len);
        rep_.pipeline = fmt::format("`off` pipeline ({}), observe {}", in_->config().describe(),
                                    "compiled in or out as the case says");
        rep_.setup_ms = ms_since(t0);
    }

    int prog_fd(ObserveCase c) const {
        if (c == ObserveCase::drop) return bpf_program__fd(baseline_->progs.xdp_drop);
        return c == ObserveCase::out ? out_->prog_fd() : in_->prog_fd();
    }

    // Puts the data plane in the case's state (the drop and out programs
    // never read xdpd_observe: they get the all-zero state).
    void enter(ObserveCase c) {
        if ((c == ObserveCase::capture_all_wm) != pb_raw_) open_perf_buffer(!pb_raw_);
        xdpd_observe o = observe_state(c, o_.snaplen);
        __u32 zero = 0;
        if (bpf_map_update_elem(observe_.fd(), &zero, &o, BPF_ANY)) throw SysError("update xdpd_observe", errno);
        drain();
        drain_ = Drain{};
    }

    // Checks the verdict and the path (what the stage counted) on a short
    // untimed run, and warms up.
    void check_and_warm(ObserveResult& r, size_t len) {
        const auto& f = frames_.at(len);
        r.verdict = verdict_of(prog_fd(r.c), f);
        const __u32 want = r.c == ObserveCase::drop ? XDPD_ACT_DROP : XDPD_ACT_PASS;
        if (r.verdict != want)
            throw std::runtime_error(fmt::format("{}: verdict {} instead of {}", observe_case_name(r.c), r.verdict, want));
        const __u32 caplen = caplen_for(o_.snaplen, len);
        drain_.want_caplen = caplen;
        const auto before = observe_cpu_sum(observe_cpu_);
        time(r.c, f, 1000, chunk(r.c, len));
        const auto after = observe_cpu_sum(observe_cpu_);
        const uint64_t seen = after.capture_seen - before.capture_seen, sent = after.capture_sent - before.capture_sent;
        const bool all = r.c == ObserveCase::capture_all || r.c == ObserveCase::capture_all_wm;
        const bool matches = all || r.c == ObserveCase::capture_1in100;
        if (seen != (matches ? 1000u : 0u) || (all && sent != 1000))
            throw std::runtime_error(fmt::format("{}: the capture saw {} and sent {} of 1000 packets: not measuring it",
                                                 observe_case_name(r.c), seen, sent));
        if (drain_.bad)
            throw std::runtime_error(fmt::format("{}: {} perf records without the expected header or caplen {}",
                                                 observe_case_name(r.c), drain_.bad, caplen));
        time(r.c, f, o_.warmup, chunk(r.c, len));
        drain_ = Drain{};
        drain_.want_caplen = caplen;
    }

    // One timed measurement: ns per run, weighted over the calls it took.
    double measure_round(ObserveResult& r, size_t len) {
        const auto& f = frames_.at(len);
        const auto before = observe_cpu_sum(observe_cpu_);
        const uint64_t top_before = top_packets(top_);
        const __u32 ch = chunk(r.c, len);
        r.chunk[len] = ch;
        drain_.records = 0;
        drain_.want_caplen = caplen_for(o_.snaplen, len);
        const double ns = time(r.c, f, o_.runs, ch);
        const auto after = observe_cpu_sum(observe_cpu_);
        auto& k = r.counters;
        k.runs += o_.runs;
        k.calls += (o_.runs + ch - 1) / ch;
        k.seen += after.capture_seen - before.capture_seen;
        k.sent += after.capture_sent - before.capture_sent;
        k.lost += after.capture_lost - before.capture_lost;
        k.records += drain_.records;
        k.top_packets += top_packets(top_) - top_before;
        if (drain_.bad) throw std::runtime_error(fmt::format("{}: malformed perf records", observe_case_name(r.c)));
        return ns;
    }

    void leave() { enter(ObserveCase::out); }

private:
    // libbpf's perf_buffer__new (what `xdpd capture` uses): a wakeup per
    // record (wakeup_events = 1). raw: the same event with wakeup_events = 0,
    // woken when the ring is half full (the kernel's default watermark).
    void open_perf_buffer(bool raw) {
        pb_.reset();  // frees the old one first: it clears its slots in the map
        const int fd = in_->map("xdpd_capture_events").fd();
        if (raw) {
            perf_event_attr attr{};
            attr.type = PERF_TYPE_SOFTWARE;
            attr.config = PERF_COUNT_SW_BPF_OUTPUT;
            attr.sample_type = PERF_SAMPLE_RAW;
            attr.sample_period = 1;
            attr.wakeup_events = 0;
            LIBBPF_OPTS(perf_buffer_raw_opts, ro);
            pb_.reset(perf_buffer__new_raw(fd, o_.perf_pages, &attr, &Drain::on_event, &drain_, &ro));
        } else {
            LIBBPF_OPTS(perf_buffer_opts, pbo);
            pb_.reset(perf_buffer__new(fd, o_.perf_pages, &Drain::on_sample, &Drain::on_lost, &drain_, &pbo));
        }
        if (!pb_) throw SysError("open a perf buffer on xdpd_capture_events", errno);
        pb_raw_ = raw;
    }

    __u32 chunk(ObserveCase c, size_t len) const {
        const __u32 caplen = caplen_for(o_.snaplen, len);
        if (c == ObserveCase::capture_all || c == ObserveCase::capture_all_wm)
            return capture_chunk(o_.perf_pages, caplen, 1, o_.runs);
        if (c == ObserveCase::capture_1in100) return capture_chunk(o_.perf_pages, caplen, 100, o_.runs);
        return o_.runs;
    }

    void drain() {
        int n = perf_buffer__consume(pb_.get());
        if (n < 0) throw SysError("perf_buffer__consume", -n);
    }

    // `runs` runs of c on f, in calls of at most `chunk`, the perf buffer
    // drained after each; returns the kernel's ns per run, weighted by runs.
    double time(ObserveCase c, const std::vector<uint8_t>& f, __u32 runs, __u32 chunk) {
        const int fd = prog_fd(c);
        double total = 0;
        for (__u32 done = 0; done < runs;) {
            throw_if_interrupted();
            const __u32 n = std::min(chunk, runs - done);
            bpf::TestRunResult res;
            try {
                res = bpf::test_run(fd, f, {.repeat = n});
            } catch (const SysError&) {
                throw_if_interrupted();  // EINTR from Ctrl-C: Interrupted, RAII cleans up
                throw;
            }
            total += double(res.duration_ns) * n;
            done += n;
            drain();
        }
        return total / runs;
    }

    const ObserveOptions& o_;
    ObserveReport& rep_;
    std::unique_ptr<baseline_bpf, BaselineDeleter> baseline_;
    std::unique_ptr<bpf::Pipeline> out_, in_;
    bpf::MapRef observe_, observe_cpu_, top_;
    Drain drain_;
    std::unique_ptr<perf_buffer, PerfBufferDeleter> pb_;
    bool pb_raw_ = false;
    std::map<size_t, std::vector<uint8_t>> frames_;
};

// The checks a case's totals must pass, as notes; throws when one fails.
void check_counters(ObserveResult& r, const ObserveOptions& o) {
    const auto& k = r.counters;
    const char* name = observe_case_name(r.c);
    auto fail = [&](const std::string& why) {
        throw std::runtime_error(fmt::format("{}: {}: not measuring what it claims", name, why));
    };
    switch (r.c) {
    case ObserveCase::capture_nomatch:
        if (k.seen || k.sent) fail(fmt::format("the filter matched {} packets", k.seen));
        r.notes.push_back(fmt::format("capture on, filter proto {}: 0 of {} runs matched", kNoSuchProto, k.runs));
        break;
    case ObserveCase::capture_1in100:
    case ObserveCase::capture_all:
    case ObserveCase::capture_all_wm: {
        const uint64_t sample = r.c == ObserveCase::capture_1in100 ? 100 : 1;
        if (k.seen != k.runs) fail(fmt::format("the filter matched {} of {} runs", k.seen, k.runs));
        if (k.lost) fail(fmt::format("{} outputs failed (perf buffer full)", k.lost));
        if (k.sent + k.calls < k.runs / sample || k.sent > k.runs / sample + k.calls)
            fail(fmt::format("{} sent of {} runs at 1 in {}", k.sent, k.runs, sample));
        if (k.records != k.sent) fail(fmt::format("{} records read back, {} sent", k.records, k.sent));
        std::string chunks;
        for (const auto& [len, ch] : r.chunk) chunks += fmt::format(" {} B: {} runs/call;", len, ch);
        r.notes.push_back(fmt::format("{} runs: {} sent to the perf buffer, {} lost, {} read back (snaplen {});{} "
                                      "drained after every call; {}",
                                      k.runs, k.sent, k.lost, k.records, o.snaplen, chunks,
                                      r.c == ObserveCase::capture_all_wm
                                          ? "perf_buffer__new_raw, wakeup_events 0 (woken at half full)"
                                          : "perf_buffer__new (libbpf: a wakeup per record)"));
        break;
    }
    case ObserveCase::top_sample: {
        const double want = double(k.runs) / 64;
        if (std::abs(double(k.top_packets) - want) > double(k.calls) + 2)
            fail(fmt::format("{} sampled packets for {} runs (expected ~{:.0f})", k.top_packets, k.runs, want));
        r.notes.push_back(fmt::format("{} of {} runs counted in xdpd_top_sources (1 in 64)", k.top_packets, k.runs));
        break;
    }
    default:
        if (k.seen || k.sent || k.top_packets) fail("the observe stage did work");
        break;
    }
}

}  // namespace

const char* observe_case_name(ObserveCase c) {
    for (const auto& n : kCases)
        if (n.c == c) return n.name;
    return "?";
}

const std::vector<ObserveCase>& observe_cases() {
    static const std::vector<ObserveCase> all = [] {
        std::vector<ObserveCase> v;
        for (const auto& n : kCases) v.push_back(n.c);
        return v;
    }();
    return all;
}

std::optional<ObserveCase> observe_case_by_name(const std::string& name) {
    for (const auto& n : kCases)
        if (name == n.name) return n.c;
    return std::nullopt;
}

std::string observe_case_help() {
    std::string s;
    for (const auto& n : kCases) s += fmt::format("  {:<16} {}\n", n.name, n.help);
    return s;
}

const ObserveResult* ObserveReport::find(ObserveCase c) const {
    for (const auto& r : cases)
        if (r.c == c) return &r;
    return nullptr;
}

Summary summarize(std::vector<double> v) {
    Summary s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    return s;
}

double sign_test_p(size_t pos, size_t neg) {
    const size_t n = pos + neg, k = std::min(pos, neg);
    if (n == 0) return 1;
    double tail = 0;
    for (size_t i = 0; i <= k; ++i)
        tail += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) -
                         double(n) * std::log(2.0));
    return std::min(1.0, 2 * tail);
}

ObserveReport run_observe(const std::vector<ObserveCase>& cases, const ObserveOptions& o) {
    ObserveReport rep;
    rep.opts = o;
    Rotation rot(o, rep);
    auto progress = [&](const std::string& s) {
        if (o.verbose) std::fprintf(stderr, "xdpd-bench: %s\n", s.c_str());
    };
    for (ObserveCase c : cases) {
        ObserveResult r;
        r.c = c;
        r.program = prog_label(rot.prog_fd(c));
        rot.enter(c);
        for (size_t len : o.frame_sizes) rot.check_and_warm(r, len);
        rep.cases.push_back(std::move(r));
    }
    for (unsigned round = 0; round < o.rounds; ++round) {
        std::string line = fmt::format("observe round {}/{}:", round + 1, o.rounds);
        for (size_t i = 0; i < rep.cases.size(); ++i) {
            auto& r = rep.cases[round % 2 ? rep.cases.size() - 1 - i : i];  // A B B A
            rot.enter(r.c);
            for (size_t len : o.frame_sizes) r.round_ns[len].push_back(rot.measure_round(r, len));
            line += fmt::format(" {} {:.0f}", observe_case_name(r.c), r.round_ns[o.frame_sizes.front()].back());
        }
        progress(line);
    }
    rot.leave();
    for (auto& r : rep.cases) check_counters(r, o);
    return rep;
}

namespace {

// Per-round differences a - b (same round), for one frame length.
std::vector<double> paired(const ObserveResult& a, const ObserveResult& b, size_t len) {
    const auto &x = a.round_ns.at(len), &y = b.round_ns.at(len);
    std::vector<double> d;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) d.push_back(x[i] - y[i]);
    return d;
}

struct Comparison {
    Summary diff;
    size_t slower = 0, faster = 0, tied = 0;
    double p = 1;
    bool within_noise() const { return p >= 0.05; }
};

Comparison compare(const ObserveResult& a, const ObserveResult& b, size_t len) {
    Comparison c;
    const auto d = paired(a, b, len);
    for (double v : d) (std::abs(v) < 0.25 ? c.tied : v > 0 ? c.slower : c.faster)++;
    c.diff = summarize(d);
    c.p = sign_test_p(c.slower, c.faster);
    return c;
}

std::string signed_ns(double v) { return fmt::format("{:+.1f}", v); }

}  // namespace

std::string render_observe_table(const ObserveReport& rep) {
    const auto& o = rep.opts;
    std::string out;
    auto line = [&](const std::string& s) { out += s + "\n"; };
    line(fmt::format("observe stage: {} rounds, interleaved (cases in order, then reversed: A B B A), {} runs per case, "
                     "frame and round;",
                     o.rounds, o.runs));
    line("ns = the kernel's per-run average, median over rounds; spread = max - min over rounds; -out = the paired");
    line("per-round difference to observe-out (median [min..max]); -off = the same to observe-off (median): what");
    line("switching the feature on costs; /drop = median / obs-drop's median.");
    line("Every case but obs-drop is the `off` pipeline (firewall compiled out; parse, shield, counters).");
    const ObserveResult* out_case = rep.find(ObserveCase::out);
    const ObserveResult* drop_case = rep.find(ObserveCase::drop);
    const ObserveResult* off_case = rep.find(ObserveCase::off);
    for (size_t len : o.frame_sizes) {
        line("");
        const std::string head = fmt::format("{:<16} {:>8} {:>7} {:>7} {:>7} {:>27} {:>8} {:>6}",
                                             fmt::format("{} B frame", len), "ns", "min", "max", "spread",
                                             "-out ns [min..max]", "-off ns", "/drop");
        line(head);
        line(std::string(head.size(), '-'));
        const double drop = drop_case ? summarize(drop_case->round_ns.at(len)).median : 0;
        for (const auto& r : rep.cases) {
            const Summary s = summarize(r.round_ns.at(len));
            std::string row = fmt::format("{:<16} {:>8.1f} {:>7.1f} {:>7.1f} {:>7.1f}", observe_case_name(r.c), s.median,
                                          s.min, s.max, s.max - s.min);
            const bool pipeline = r.c != ObserveCase::drop;
            if (out_case && &r != out_case && pipeline) {
                const Summary d = summarize(paired(r, *out_case, len));
                row += fmt::format(" {:>27}", fmt::format("{} [{}..{}]", signed_ns(d.median), signed_ns(d.min),
                                                          signed_ns(d.max)));
            } else {
                row += fmt::format(" {:>27}", "-");
            }
            if (off_case && &r != off_case && pipeline && r.c != ObserveCase::out)
                row += fmt::format(" {:>8}", signed_ns(summarize(paired(r, *off_case, len)).median));
            else
                row += fmt::format(" {:>8}", "-");
            row += drop > 0 ? fmt::format(" {:>6.2f}", s.median / drop) : fmt::format(" {:>6}", "-");
            line(row);
        }
    }
    if (out_case && off_case) {
        line("");
        line("observe-off vs observe-out (compiled in and idle vs compiled out), paired by round:");
        for (size_t len : o.frame_sizes) {
            const Comparison c = compare(*off_case, *out_case, len);
            const Summary so = summarize(out_case->round_ns.at(len));
            line(fmt::format("  {:>4} B: difference median {} ns [{}..{}]; off slower in {}, faster in {}, tied in {} "
                             "of {} rounds; sign test p = {:.2f}; observe-out's own spread {:.1f} ns: {}",
                             len, signed_ns(c.diff.median), signed_ns(c.diff.min), signed_ns(c.diff.max), c.slower,
                             c.faster, c.tied, c.diff.n, c.p, so.max - so.min,
                             c.within_noise() ? "no difference beyond noise (p >= 0.05)"
                                              : fmt::format("a difference beyond noise (p < 0.05): {} ns",
                                                            signed_ns(c.diff.median))));
        }
    }
    line("");
    line("notes:");
    for (const auto& r : rep.cases) {
        line(fmt::format("  {:<16} program {}", observe_case_name(r.c), r.program));
        for (const auto& n : r.notes) line(fmt::format("  {:<16} {}", observe_case_name(r.c), n));
    }
    line(fmt::format("  perf buffer: {} pages per CPU, perf_buffer__consume after every call; capture calls are cut "
                     "to fit it (runs/call)",
                     o.perf_pages));
    return out;
}

nlohmann::json render_observe_json(const ObserveReport& rep) {
    using nlohmann::json;
    const auto& o = rep.opts;
    json j;
    j["pipeline"] = rep.pipeline;
    j["rounds"] = o.rounds;
    j["runs"] = o.runs;
    j["warmup_runs"] = o.warmup;
    j["order"] = "A B B A: cases in order on even rounds, reversed on odd ones";
    j["statistic"] = "median over rounds of the kernel's per-run average (ns), weighted over a round's calls";
    j["snaplen"] = o.snaplen;
    j["perf_pages_per_cpu"] = o.perf_pages;
    const ObserveResult* out_case = rep.find(ObserveCase::out);
    json cases = json::array();
    for (const auto& r : rep.cases) {
        json c;
        c["case"] = observe_case_name(r.c);
        c["program"] = r.program;
        c["verdict"] = r.verdict;
        json frames = json::object();
        for (size_t len : o.frame_sizes) {
            const Summary s = summarize(r.round_ns.at(len));
            json f = {{"ns", s.median}, {"ns_min", s.min}, {"ns_max", s.max}, {"rounds_ns", r.round_ns.at(len)}};
            if (auto it = r.chunk.find(len); it != r.chunk.end()) f["runs_per_call"] = it->second;
            if (out_case && &r != out_case) {
                const Comparison cmp = compare(r, *out_case, len);
                f["minus_out"] = {{"median", cmp.diff.median}, {"min", cmp.diff.min}, {"max", cmp.diff.max},
                                  {"slower", cmp.slower},      {"faster", cmp.faster}, {"tied", cmp.tied},
                                  {"sign_test_p", cmp.p}};
            }
            frames[std::to_string(len)] = f;
        }
        c["frames"] = frames;
        const auto& k = r.counters;
        c["counters"] = {{"runs", k.runs},   {"calls", k.calls},     {"capture_seen", k.seen},
                         {"capture_sent", k.sent}, {"capture_lost", k.lost}, {"records_read", k.records},
                         {"top_sampled_packets", k.top_packets}};
        if (!r.notes.empty()) c["notes"] = r.notes;
        cases.push_back(c);
    }
    j["cases"] = cases;
    const ObserveResult* off_case = rep.find(ObserveCase::off);
    if (out_case && off_case) {
        json cmp = json::object();
        for (size_t len : o.frame_sizes) {
            const Comparison c = compare(*off_case, *out_case, len);
            cmp[std::to_string(len)] = {{"median_ns", c.diff.median}, {"min_ns", c.diff.min}, {"max_ns", c.diff.max},
                                        {"slower", c.slower},         {"faster", c.faster},   {"tied", c.tied},
                                        {"sign_test_p", c.p},         {"within_noise", c.within_noise()}};
        }
        j["off_minus_out"] = cmp;
    }
    return j;
}

}  // namespace xdpd::bench
