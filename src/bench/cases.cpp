#include "bench/cases.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "baseline.skel.h"
#include "bpf/test_run.hpp"
#include "shield/limits.hpp"
#include "util/error.hpp"
#include "bench/packets.hpp"
#include "bench/report.hpp"
#include "bench/rulesets.hpp"
#include "shield/limits.hpp"
#include "util/error.hpp"
#include "bench/xdp_filter.hpp"
#include "bpf/pipeline.hpp"
#include "mitigation/watch_maps.hpp"
#include "bpf/map.hpp"
#include "fw/installer.hpp"
#include "xdpd/abi.h"

namespace xdpd::bench {
namespace {

// The reason the pipeline recorded for one run of `frame`: proves which path
// the packet took (a miss must reach the default policy, i.e. visit every tuple).
__u32 reason_of(const bpf::Pipeline& p, int prog_fd, const Frame& frame) {
    auto stats_map = p.map("xdpd_stats");
    bpf::PerCpuMap<__u32, xdpd_if_stats> stats(stats_map);
    auto sum = [&] {
        std::vector<__u64> v(XDPD_R_MAX, 0);
        for (const auto& s : stats.lookup_all(p.config().ifslot))
            for (int r = 0; r < XDPD_R_MAX; ++r) v[r] += xdpd_reason_total(s, r).packets;
        return v;
    };
    auto before = sum();
    verdict_of(prog_fd, frame);
    auto after = sum();
    for (int r = 0; r < XDPD_R_MAX; ++r)
        if (after[r] != before[r]) return __u32(r);
    throw std::runtime_error("the pipeline recorded no reason for a test packet");
}

void expect_reason(const bpf::Pipeline& p, const Frame& frame, __u32 want, const char* what) {
    __u32 got = reason_of(p, p.prog_fd(), frame);
    if (got != want)
        throw std::runtime_error(fmt::format("{} packet took reason {} instead of {}: not measuring it",
                                             what, got, want));
}

size_t parse_count(const std::string& name, const std::string& num) {
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 7)
        throw std::invalid_argument("case '" + name + "': '" + num + "' is not a rule count");
    return std::stoul(num);
}

}  // namespace

// ---- case names ---------------------------------------------------------------

std::string CaseSpec::name() const {
    switch (kind) {
    case CaseKind::xdp_drop: return "drop";
    case CaseKind::xdp_pass: return "pass";
    case CaseKind::pipeline_off: return "off";
    case CaseKind::watch: return "watch";
    case CaseKind::firewall: return fmt::format("fw:{}", rules);
    case CaseKind::xdp_filter: return fmt::format("xdp-filter:{}", rules);
    case CaseKind::firewall_xf: return fmt::format("fw-xf:{}", rules);
    case CaseKind::ratelimit: return fmt::format("rl:{}", rules);
    case CaseKind::lb: return lb_case_name(lb);
    case CaseKind::lb_call_drop: return "lb-call-drop";
    case CaseKind::lb_call_off: return "lb-call-off";
    case CaseKind::observe: return observe_case_name(observe);
    }
    return "?";
}

std::vector<CaseSpec> default_cases() {
    return {{CaseKind::xdp_drop},        {CaseKind::xdp_pass},          {CaseKind::pipeline_off},
            {CaseKind::firewall, 10},    {CaseKind::firewall, 1000},    {CaseKind::firewall, 10000},
            {CaseKind::xdp_filter, 10},  {CaseKind::xdp_filter, 10000}, {CaseKind::firewall_xf, 10000}};
}

std::vector<CaseSpec> parse_cases(const std::string& list) {
    std::vector<CaseSpec> out;
    size_t i = 0;
    while (i <= list.size()) {
        size_t j = list.find(',', i);
        if (j == std::string::npos) j = list.size();
        std::string tok = list.substr(i, j - i);
        i = j + 1;
        if (tok.empty()) continue;
        if (tok == "default") {
            for (auto& c : default_cases()) out.push_back(c);
            continue;
        }
        if (tok == "drop") { out.push_back({CaseKind::xdp_drop}); continue; }
        if (tok == "pass") { out.push_back({CaseKind::xdp_pass}); continue; }
        if (tok == "off") { out.push_back({CaseKind::pipeline_off}); continue; }
        if (tok == "watch") { out.push_back({CaseKind::watch}); continue; }
        if (tok == "lb-call-drop") { out.push_back({CaseKind::lb_call_drop}); continue; }
        if (tok == "lb-call-off") { out.push_back({CaseKind::lb_call_off}); continue; }
        if (tok == "observe") {
            for (ObserveCase c : observe_cases()) out.push_back({.kind = CaseKind::observe, .observe = c});
            continue;
        }
        if (auto oc = observe_case_by_name(tok)) {
            out.push_back({.kind = CaseKind::observe, .observe = *oc});
            continue;
        }
        if (tok == "lb") {
            for (LbCase c : lb_cases()) out.push_back({.kind = CaseKind::lb, .lb = c});
            continue;
        }
        if (tok.starts_with("lb")) {
            bool found = false;
            for (LbCase c : lb_cases())
                if (tok == lb_case_name(c)) {
                    out.push_back({.kind = CaseKind::lb, .lb = c});
                    found = true;
                }
            if (found) continue;
        }
        size_t colon = tok.find(':');
        std::string kind = tok.substr(0, colon);
        if (kind != "fw" && kind != "xdp-filter" && kind != "fw-xf" && kind != "rl")
            throw std::invalid_argument("unknown case '" + tok + "' (see --help)");
        if (colon == std::string::npos)
            throw std::invalid_argument("case '" + tok + "' needs a rule count, e.g. " + tok + ":1000");
        size_t n = parse_count(tok, tok.substr(colon + 1));
        if (kind == "rl") {
            if (n > XDPD_MAX_BUCKETS)
                throw std::invalid_argument(fmt::format("case '{}': the bucket table holds {}", tok, XDPD_MAX_BUCKETS));
            out.push_back({CaseKind::ratelimit, n});
        } else if (kind == "fw") {
            if (n > XDPD_FW_MAX_RULES)
                throw std::invalid_argument(fmt::format("case '{}': the data plane holds at most {} rules",
                                                        tok, XDPD_FW_MAX_RULES));
            out.push_back({CaseKind::firewall, n});
        } else if (kind == "xdp-filter" || kind == "fw-xf") {
            if (n < 1 || n > 10000 + kXdpFilterPorts)
                throw std::invalid_argument(fmt::format(
                    "case '{}': between 1 and {} rules (xdp-filter holds 10,000 addresses)", tok,
                    10000 + kXdpFilterPorts));
            out.push_back({kind == "fw-xf" ? CaseKind::firewall_xf : CaseKind::xdp_filter, n});
        }
    }
    if (out.empty()) throw std::invalid_argument("no case given");
    // The lb cases are timed one run per call: their baselines, timed the
    // same way, come first unless given.
    auto has = [&](CaseKind k) {
        return std::any_of(out.begin(), out.end(), [k](const CaseSpec& c) { return c.kind == k; });
    };
    if (has(CaseKind::lb)) {
        auto first = std::find_if(out.begin(), out.end(), [](const CaseSpec& c) { return c.kind == CaseKind::lb; });
        std::vector<CaseSpec> base;
        if (!has(CaseKind::lb_call_drop)) base.push_back({CaseKind::lb_call_drop});
        if (!has(CaseKind::lb_call_off)) base.push_back({CaseKind::lb_call_off});
        out.insert(first, base.begin(), base.end());
    }
    return out;
}

std::string case_help() {
    return "  drop           baseline: XDP program that only returns XDP_DROP\n"
           "  pass           baseline: XDP program that only returns XDP_PASS\n"
           "  off            xdpd pipeline, firewall compiled out (parse + stats)\n"
           "  watch          off + the mitigation watch stage (counters, HyperLogLog,\n"
           "                 one destination prefix watched: an LPM lookup)\n"
           "  fw:N           xdpd pipeline + firewall of N rules, fixed set of shapes\n"
           "  xdp-filter:N   xdp-filter (skb mode, scratch interface), N exact-match\n"
           "                 deny rules (N-3 source IPv4 addresses + 3 ports)\n"
           "  fw-xf:N        xdpd running the xdp-filter:N rule set\n"
           "  default        drop,pass,off,fw:10,fw:1000,fw:10000,xdp-filter:10,\n"
           "                 xdp-filter:10000,fw-xf:10000\n"
           "  lb4-hit        xdpd pipeline + load balancer (NAT, 3 backends, Maglev), in a\n"
           "                 namespace where bpf_fib_lookup succeeds (XDP_TX): TCP ACK\n"
           "                 of a flow in the connection table, IPv4\n"
           "  lb4-miss       TCP SYN: never looks in the table (ring, then insert)\n"
           "  lb4-new        TCP ACK of a flow not in the table, a fresh flow every run\n"
           "                 (table miss, ring, insert)\n"
           "  lb6-hit, lb6-miss   the same over IPv6\n"
           "  lb4-udp-hit    UDP of a flow in the table, IPv4\n"
           "  lb-reply4      a NAT backend's reply (source rewritten to the VIP)\n"
           "  lb4-dsr-hit    TCP ACK of a flow in the table, DSR (MACs only)\n"
           "  lb             all lb cases. lb cases run the program ONCE per\n"
           "                 BPF_PROG_TEST_RUN call (NAT rewrites the packet, and\n"
           "                 repeat would run on its own output), --lb-calls calls per\n"
           "                 trial; their baselines lb-call-drop and lb-call-off (drop,\n"
           "                 off timed the same way) are added before them\n"
           "  observe        all observe cases below, timed together: --observe-rounds\n"
           "                 rounds, each case once per round (--repeat runs), in order\n"
           "                 then reversed (A B B A); median and spread over rounds,\n"
           "                 paired differences to observe-out. Pipeline: `off`.\n" +
           observe_case_help();
}

const FrameRun* CaseResult::frame(const std::string& label) const {
    for (const auto& f : frames)
        if (f.label == label) return &f;
    return nullptr;
}

// ---- runner -------------------------------------------------------------------

struct Runner::State {
    struct BaselineDeleter {
        void operator()(baseline_bpf* s) const { baseline_bpf__destroy(s); }
    };
    std::unique_ptr<baseline_bpf, BaselineDeleter> baseline;
    std::unique_ptr<bpf::Pipeline> off, watch;
    std::unique_ptr<bpf::Pipeline> fw;
    fw::FirewallMaps fw_maps;  // the installer keeps a reference: lives as long as it
    std::unique_ptr<fw::Installer> installer;
    std::unique_ptr<LbBench> lb;
    std::optional<ObserveReport> observe;
};

Runner::Runner(BenchOptions opts) : opts_(std::move(opts)), st_(std::make_unique<State>()) {}
Runner::~Runner() = default;

const ObserveReport* Runner::observe_report() const { return st_->observe ? &*st_->observe : nullptr; }

std::vector<CaseResult> Runner::run_all(const std::vector<CaseSpec>& cases) {
    std::vector<ObserveCase> group;
    for (const auto& c : cases)
        if (c.kind == CaseKind::observe) group.push_back(c.observe);
    std::vector<CaseResult> out;
    std::string group_error;
    for (const auto& c : cases) {
        if (c.kind != CaseKind::observe) {
            out.push_back(run(c));
            continue;
        }
        if (!st_->observe && group_error.empty()) {
            progress(fmt::format("observe group: {} cases, {} interleaved rounds", group.size(), opts_.observe_rounds));
            try {
                st_->observe = run_observe(group, {.runs = opts_.measure.repeat,
                                                   .warmup = opts_.measure.warmup_repeat,
                                                   .rounds = opts_.observe_rounds,
                                                   .frame_sizes = opts_.frame_sizes,
                                                   .verbose = opts_.verbose});
            } catch (const Interrupted&) {
                throw;
            } catch (const std::exception& e) {
                group_error = e.what();
                progress("  error: " + group_error);
            }
        }
        CaseResult r;
        r.spec = c;
        if (!group_error.empty()) {
            r.status = CaseResult::Status::error;
            r.reason = group_error;
            out.push_back(std::move(r));
            continue;
        }
        const ObserveResult* o = st_->observe->find(c.observe);
        r.program = o->program;
        r.notes.push_back(fmt::format("observe rotation, {} interleaved rounds (spread: over rounds): see its table",
                                      opts_.observe_rounds));
        for (const auto& [len, ns] : o->round_ns) {
            FrameRun f{fmt::format("miss-{}", len), len, false, o->verdict, {}};
            const Summary s = summarize(ns);
            f.m.verdict = o->verdict;
            for (double v : ns) f.m.trial_ns.push_back(__u32(std::lround(v)));
            f.m.median_ns = s.median;
            f.m.min_ns = s.min;
            f.m.max_ns = s.max;
            r.frames.push_back(std::move(f));
        }
        out.push_back(std::move(r));
    }
    return out;
}

void Runner::progress(const std::string& msg) const {
    if (opts_.verbose) std::fprintf(stderr, "xdpd-bench: %s\n", msg.c_str());
}

CaseResult Runner::run(const CaseSpec& c) {
    CaseResult r;
    r.spec = c;
    progress("case " + c.name());
    try {
        switch (c.kind) {
        case CaseKind::xdp_drop:
        case CaseKind::xdp_pass: run_baseline(c, r); break;
        case CaseKind::pipeline_off:
        case CaseKind::watch:
        case CaseKind::firewall:
        case CaseKind::firewall_xf: run_pipeline(c, r); break;
        case CaseKind::xdp_filter: run_xdp_filter(c, r); break;
        case CaseKind::ratelimit: run_ratelimit(c, r); break;
        case CaseKind::lb:
        case CaseKind::lb_call_drop:
        case CaseKind::lb_call_off: run_lb(c, r); break;
        case CaseKind::observe: throw std::logic_error("observe cases are timed together: Runner::run_all");
        }
    } catch (const std::exception& e) {
        r.status = CaseResult::Status::error;
        r.reason = e.what();
        r.frames.clear();  // never report numbers from a case that failed
        progress("case " + c.name() + " failed: " + r.reason);
    }
    return r;
}

void Runner::time_frames(int prog_fd, CaseResult& r, __u32 miss_verdict, __u32 hit_verdict) {
    std::vector<FrameRun> plan;
    for (size_t len : opts_.frame_sizes)
        plan.push_back({fmt::format("miss-{}", len), len, false, miss_verdict, {}});
    if (opts_.hit_frame && !opts_.frame_sizes.empty())
        plan.push_back({fmt::format("hit-{}", opts_.frame_sizes.front()), opts_.frame_sizes.front(),
                        true, hit_verdict, {}});
    // Every verdict first: a case that does not take the intended path is an
    // error, not a number.
    for (auto& f : plan) {
        Frame frame = f.hit ? hit_frame(f.frame_len) : miss_frame(f.frame_len);
        __u32 v = verdict_of(prog_fd, frame);
        if (v != f.expected)
            throw std::runtime_error(fmt::format("{} packet got {}, expected {}: not measuring it",
                                                 f.label, verdict_name(v), verdict_name(f.expected)));
    }
    for (auto& f : plan) {
        Frame frame = f.hit ? hit_frame(f.frame_len) : miss_frame(f.frame_len);
        f.m = measure(prog_fd, frame, opts_.measure);
        progress(fmt::format("  {:<10} {:>7.1f} ns/packet (trials {})", f.label, f.m.median_ns,
                             fmt::join(f.m.trial_ns, " ")));
    }
    r.frames = std::move(plan);
}

void Runner::run_baseline(const CaseSpec& c, CaseResult& r) {
    if (!st_->baseline) {
        st_->baseline.reset(baseline_bpf__open_and_load());
        if (!st_->baseline) throw SysError("load bpf/baseline.bpf.c", errno);
    }
    bool drop = c.kind == CaseKind::xdp_drop;
    int fd = bpf_program__fd(drop ? st_->baseline->progs.xdp_drop : st_->baseline->progs.xdp_pass);
    r.program = prog_label(fd);
    __u32 v = drop ? XDPD_ACT_DROP : XDPD_ACT_PASS;
    time_frames(fd, r, v, v);
}

void Runner::run_pipeline(const CaseSpec& c, CaseResult& r) {
    auto t0 = std::chrono::steady_clock::now();
    if (c.kind == CaseKind::pipeline_off) {
        if (!st_->off)
            st_->off = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = false}));
        r.program = prog_label(st_->off->prog_fd());
        r.setup_ms = ms_since(t0);
        expect_reason(*st_->off, miss_frame(64), XDPD_R_NO_FIREWALL, "miss");
        time_frames(st_->off->prog_fd(), r, XDPD_ACT_PASS, XDPD_ACT_PASS);
        return;
    }
    if (c.kind == CaseKind::watch) {
        if (!st_->watch) {
            st_->watch = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = false, .watch = true}));
            mitigation::WatchMaps w([this](const std::string& n) { return st_->watch->map(n); });
            config::WatchConfig def{.name = "default"}, one{.name = "bench"};
            one.prefixes = {*fw::Cidr::parse("192.0.2.0/24")};
            w.install_prefixes({def, one});
        }
        r.program = prog_label(st_->watch->prog_fd());
        r.setup_ms = ms_since(t0);
        time_frames(st_->watch->prog_fd(), r, XDPD_ACT_PASS, XDPD_ACT_PASS);
        return;
    }
    if (!st_->fw) {
        st_->fw = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = true}));
        auto& p = *st_->fw;
        st_->fw_maps = fw::FirewallMaps::from([&p](const std::string& n) { return p.map(n); });
        st_->installer = std::make_unique<fw::Installer>(st_->fw_maps);
    }
    fw::RuleSet rs;
    if (c.kind == CaseKind::firewall) {
        rs = make_ruleset(c.rules);
    } else {
        auto xf = make_xdp_filter_ruleset(c.rules);
        rs = to_xdpd(xf);
        r.notes.push_back(fmt::format("{} xdp-filter rules ({} addresses, {} ports) = {} xdpd rules "
                                      "(a port is one tcp and one udp rule)",
                                      xf.size(), xf.src_ipv4.size(), xf.ports.size(), rs.rules.size()));
    }
    auto rep = st_->installer->install(rs);
    r.setup_ms = ms_since(t0);
    r.program = prog_label(st_->fw->prog_fd());
    r.rules = rep.rules;
    r.tuples = rep.tuples;
    r.entries = rep.entries;
    for (const auto& w : rep.warnings) r.notes.push_back("compiler: " + w);
    progress(fmt::format("  installed {} rules: {} tuples, {} entries in {:.0f} ms", rep.rules,
                         rep.tuples, rep.entries, r.setup_ms));
    // The miss packet must reach the default policy (every tuple looked up),
    // the hit packet must be denied by a rule.
    expect_reason(*st_->fw, miss_frame(64), XDPD_R_DEFAULT_ALLOW, "miss");
    if (!rs.rules.empty()) expect_reason(*st_->fw, hit_frame(64), XDPD_R_FW_DENY, "hit");
    time_frames(st_->fw->prog_fd(), r, XDPD_ACT_PASS, rs.rules.empty() ? XDPD_ACT_PASS : XDPD_ACT_DROP);
}

void Runner::run_xdp_filter(const CaseSpec& c, CaseResult& r) {
    if (!opts_.xdp_filter) {
        r.status = CaseResult::Status::skipped;
        r.reason = "--no-xdp-filter";
        return;
    }
    if (auto why = xdp_filter_unavailable()) {
        r.status = CaseResult::Status::skipped;
        r.reason = *why;
        progress("  skipped: " + r.reason);
        return;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto xf = make_xdp_filter_ruleset(c.rules);
    ScratchInterface iface(fmt::format("xdpdb{}", getpid() % 10000000));
    XdpFilterSession session(iface);
    auto rep = session.add(xf, opts_.xdp_filter_cli_addresses);
    r.setup_ms = ms_since(t0);
    size_t in_map = session.ipv4_entries();
    if (in_map != xf.src_ipv4.size())
        throw std::runtime_error(fmt::format("xdp-filter's filter_ipv4 map holds {} addresses, {} added",
                                             in_map, xf.src_ipv4.size()));
    r.rules = xf.size();
    r.program = fmt::format("{} (id {})", session.prog_name(), session.prog_id());
    r.notes.push_back(fmt::format("{} interface {}, `xdp-filter load {} -m skb`, {}",
                                  iface.kind(), iface.name(), iface.name(),
                                  session.prog_name() == "xdp_dispatcher"
                                      ? "attached: the libxdp dispatcher (runs xdp-filter through freplace)"
                                      : "attached: xdp-filter's program itself (libxdp used no dispatcher)"));
    r.notes.push_back(fmt::format("{} addresses, {} ports: {}", xf.src_ipv4.size(), xf.ports.size(),
                                  rep.describe()));
    progress("  " + r.notes.back());
    // The last address must be live too (it may have come through the batch).
    if (!xf.src_ipv4.empty()) {
        Frame last = tcp4_frame(xf.src_ipv4.back(), kMissDst, kMissSport, kMissDport, 64);
        __u32 v = verdict_of(session.prog_fd(), last);
        if (v != XDPD_ACT_DROP)
            throw std::runtime_error(fmt::format("a packet from the last blocked address {} got {}",
                                                 xf.src_ipv4.back(), verdict_name(v)));
    }
    time_frames(session.prog_fd(), r, XDPD_ACT_PASS, XDPD_ACT_DROP);
}

void Runner::run_ratelimit(const CaseSpec& c, CaseResult& r) {
    auto t0 = std::chrono::steady_clock::now();
    bpf::Pipeline p = bpf::Pipeline::load({.firewall = true, .ratelimit = true});
    auto maps = fw::FirewallMaps::from([&p](const std::string& n) { return p.map(n); });
    fw::Installer installer(maps);
    // One allow rule for every packet, with a per-source limit it never exceeds.
    shield::install_limits(p.map("xdpd_limits"), {{.name = "bench", .per_source = {.pps = 1e9, .burst = 1e9}}});
    fw::RuleSet rs;
    fw::Rule rule;
    rule.action = fw::Action::allow;
    rule.limit = "bench";
    rule.limit_index = 0;
    rule.origin = "bench";
    rs.rules.push_back(rule);
    installer.install(rs);

    // Fill the bucket table: c.rules other sources (10.x.y.z), in batches.
    auto buckets = p.map("xdpd_buckets");
    std::vector<xdpd_bucket_key> keys;
    std::vector<xdpd_bucket> values(4096);
    for (size_t i = 0; i < c.rules; ++i) {
        xdpd_bucket_key k{};
        k.addr[10] = k.addr[11] = 0xff;
        k.addr[12] = 10;
        k.addr[13] = uint8_t(i >> 16);
        k.addr[14] = uint8_t(i >> 8);
        k.addr[15] = uint8_t(i);
        keys.push_back(k);
        if (keys.size() == values.size() || i + 1 == c.rules) {
            __u32 n = __u32(keys.size());
            LIBBPF_OPTS(bpf_map_batch_opts, o);
            if (bpf_map_update_batch(buckets.fd(), keys.data(), values.data(), &n, &o))
                throw SysError("fill xdpd_buckets", errno);
            keys.clear();
        }
    }
    r.setup_ms = ms_since(t0);
    r.program = prog_label(p.prog_fd());
    r.rules = 1;
    r.notes.push_back(fmt::format("{} buckets pre-filled in {:.0f} ms; timed frames find their bucket (hit)",
                                  c.rules, r.setup_ms));
    expect_reason(p, miss_frame(64), XDPD_R_FW_ALLOW, "limited allow");
    time_frames(p.prog_fd(), r, XDPD_ACT_PASS, XDPD_ACT_PASS);

    // A new source per packet: the bucket is missing and inserted (LRU).
    const int n = 20000;
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) {
        std::string src = fmt::format("172.{}.{}.{}", 16 + (i >> 16), (i >> 8) & 255, i & 255);
        total += bpf::test_run(p.prog_fd(), tcp4_frame(src, kMissDst, kMissSport, kMissDport, 64)).duration_ns;
    }
    r.notes.push_back(fmt::format("new source per packet (bucket miss + insert): {:.0f} ns/packet over {} packets, "
                                  "one run each",
                                  double(total) / n, n));
}

void Runner::run_lb(const CaseSpec& c, CaseResult& r) {
    auto t0 = std::chrono::steady_clock::now();
    if (!st_->lb) st_->lb = std::make_unique<LbBench>();
    const __u32 calls = opts_.lb_calls;
    const unsigned trials = opts_.measure.trials;
    FrameRun f{"call", 0, false, XDPD_ACT_TX, {}};
    if (c.kind == CaseKind::lb) {
        auto res = st_->lb->run(c.lb, calls, trials);
        r.program = st_->lb->program();
        f.m = res.m;
        r.notes = res.notes;
        f.frame_len = res.frame_len;
    } else {
        int fd;
        if (c.kind == CaseKind::lb_call_drop) {
            if (!st_->baseline) {
                st_->baseline.reset(baseline_bpf__open_and_load());
                if (!st_->baseline) throw SysError("load bpf/baseline.bpf.c", errno);
            }
            fd = bpf_program__fd(st_->baseline->progs.xdp_drop);
            f.expected = XDPD_ACT_DROP;
        } else {
            if (!st_->off) st_->off = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load({.firewall = false}));
            fd = st_->off->prog_fd();
            f.expected = XDPD_ACT_PASS;
        }
        r.program = prog_label(fd);
        f.m = st_->lb->baseline(fd, calls, trials);
        f.frame_len = 64;
        if (f.m.verdict != f.expected)
            throw std::runtime_error(fmt::format("got {}, expected {}", verdict_name(f.m.verdict), verdict_name(f.expected)));
        r.notes.push_back("the lb4-hit frame (64 B), same namespace and ingress_ifindex, one run per call");
        if (c.kind == CaseKind::lb_call_off) r.notes.push_back(st_->lb->setup());
    }
    r.setup_ms = ms_since(t0);
    progress(fmt::format("  {:<10} {:>7.1f} ns/packet (trials {})", f.label, f.m.median_ns, fmt::join(f.m.trial_ns, " ")));
    r.frames.push_back(std::move(f));
}

}  // namespace xdpd::bench
