#include "bench/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>

#include "xdpd/abi.h"

namespace xdpd::bench {
namespace {

const CaseResult* find_ok(const std::vector<CaseResult>& rs, CaseKind k, size_t rules = 0) {
    for (const auto& r : rs)
        if (r.spec.kind == k && (k != CaseKind::firewall || r.spec.rules == rules) &&
            r.status == CaseResult::Status::ok)
            return &r;
    return nullptr;
}

std::optional<double> ns_of(const CaseResult* r, const std::string& label) {
    if (!r) return std::nullopt;
    const FrameRun* f = r->frame(label);
    if (!f || f->m.median_ns <= 0) return std::nullopt;
    return f->m.median_ns;
}

std::string opt_num(const std::optional<size_t>& v) { return v ? std::to_string(*v) : "-"; }

std::string status_name(CaseResult::Status s) {
    switch (s) {
    case CaseResult::Status::ok: return "ok";
    case CaseResult::Status::skipped: return "skipped";
    case CaseResult::Status::error: return "error";
    }
    return "?";
}

}  // namespace

RunInfo RunInfo::collect(int pinned_cpu, const std::string& command, const MeasureOptions& m) {
    RunInfo i;
    std::time_t now = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    i.date = buf;
    utsname u{};
    if (uname(&u) == 0) i.kernel = u.release;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);)
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            i.cpu_model = colon == std::string::npos ? line : line.substr(colon + 2);
            break;
        }
    i.online_cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
    std::ifstream load("/proc/loadavg");
    std::string l1, l5, l15;
    if (load >> l1 >> l5 >> l15) i.loadavg = l1 + " " + l5 + " " + l15;
    i.pinned_cpu = pinned_cpu;
    i.command = command;
    i.measure = m;
    return i;
}

std::optional<double> scaling_ratio(const std::vector<CaseResult>& rs, const std::string& label) {
    auto big = ns_of(find_ok(rs, CaseKind::firewall, 10000), label);
    auto small = ns_of(find_ok(rs, CaseKind::firewall, 10), label);
    if (!big || !small) return std::nullopt;
    return *big / *small;
}

std::string render_table(const RunInfo& info, const std::vector<CaseResult>& rs,
                         const BenchOptions& opts) {
    std::string out;
    auto line = [&](const std::string& s) { out += s + "\n"; };
    line(fmt::format("xdpd-bench  {}  kernel {}  {}  ({} CPUs, pinned to CPU {}, load average {})",
                     info.date, info.kernel, info.cpu_model, info.online_cpus, info.pinned_cpu,
                     info.loadavg));
    line(fmt::format("BPF_PROG_TEST_RUN, repeat {}, median of {} trials; ns = the kernel's own "
                     "average per run",
                     info.measure.repeat, info.measure.trials));
    line("");

    const std::string first = opts.frame_sizes.empty() ? "" : fmt::format("miss-{}", opts.frame_sizes.front());
    const std::string hit = opts.frame_sizes.empty() ? "" : fmt::format("hit-{}", opts.frame_sizes.front());
    auto base10 = ns_of(find_ok(rs, CaseKind::firewall, 10), first);
    auto drop = ns_of(find_ok(rs, CaseKind::xdp_drop), first);

    std::string head = fmt::format("{:<17} {:>6} {:>6}", "case", "rules", "tuples");
    for (size_t i = 0; i < opts.frame_sizes.size(); ++i) {
        head += fmt::format(" {:>9}", fmt::format("{} B ns", opts.frame_sizes[i]));
        if (i == 0) head += fmt::format(" {:>6}", "Mpps");
    }
    if (opts.hit_frame && !opts.frame_sizes.empty()) head += fmt::format(" {:>9}", "hit ns");
    head += fmt::format(" {:>6} {:>8} {:>7}", "spread", "/fw:10", "/drop");
    line(head);
    line(std::string(head.size(), '-'));

    for (const auto& r : rs) {
        if (r.spec.is_lb()) continue;  // their own table, below
        std::string row = fmt::format("{:<17} {:>6} {:>6}", r.spec.name(), opt_num(r.rules), opt_num(r.tuples));
        if (r.status != CaseResult::Status::ok) {
            line(row + "  " + status_name(r.status) + ": " + r.reason);
            continue;
        }
        auto ns = ns_of(&r, first);
        for (size_t i = 0; i < opts.frame_sizes.size(); ++i) {
            auto v = ns_of(&r, fmt::format("miss-{}", opts.frame_sizes[i]));
            row += v ? fmt::format(" {:>9.1f}", *v) : fmt::format(" {:>9}", "-");
            if (i == 0) row += v ? fmt::format(" {:>6.1f}", 1000.0 / *v) : fmt::format(" {:>6}", "-");
        }
        if (opts.hit_frame && !opts.frame_sizes.empty()) {
            auto h = ns_of(&r, hit);
            row += h ? fmt::format(" {:>9.1f}", *h) : fmt::format(" {:>9}", "-");
        }
        const FrameRun* f = r.frame(first);
        row += f ? fmt::format(" {:>6.0f}", f->m.max_ns - f->m.min_ns) : fmt::format(" {:>6}", "-");
        row += ns && base10 ? fmt::format(" {:>8.2f}", *ns / *base10) : fmt::format(" {:>8}", "-");
        row += ns && drop ? fmt::format(" {:>7.2f}", *ns / *drop) : fmt::format(" {:>7}", "-");
        line(row);
    }
    line("");
    line("B ns: a TCP/IPv4 frame of that size no rule matches (it walks every tuple to the default "
         "policy); Mpps = 1000 / ns;");
    if (opts.hit_frame)
        line(fmt::format("hit ns: the {} B packet from the address rule 0 denies (its tuple comes first, "
                         "the scan stops there);",
                         opts.frame_sizes.empty() ? 0 : opts.frame_sizes.front()));
    line("tuples: distinct match shapes = hash lookups for a packet no rule matches; spread: max-min "
         "over trials (ns);");
    line(fmt::format("/fw:10 and /drop: {} B cost relative to the 10-rule firewall and to the bare "
                     "XDP_DROP program.",
                     opts.frame_sizes.empty() ? 0 : opts.frame_sizes.front()));

    if (std::any_of(rs.begin(), rs.end(), [](const CaseResult& r) { return r.spec.is_lb(); })) {
        auto call_ns = [&](CaseKind k) -> std::optional<double> {
            for (const auto& r : rs)
                if (r.spec.kind == k && r.status == CaseResult::Status::ok) return ns_of(&r, "call");
            return std::nullopt;
        };
        const auto cdrop = call_ns(CaseKind::lb_call_drop), coff = call_ns(CaseKind::lb_call_off);
        line("");
        line(fmt::format("load balancer: ONE run per BPF_PROG_TEST_RUN call (a NAT rewrite changes the packet, and "
                         "repeat would run the program on its own output); {} calls per trial, median of {} trial "
                         "means of the kernel's per-call ns",
                         opts.lb_calls, opts.measure.trials));
        const std::string lhead = fmt::format("{:<17} {:>6} {:>9} {:>6} {:>6} {:>8} {:>7}", "case", "frame", "ns",
                                              "Mpps", "spread", "-off ns", "/drop");
        line(lhead);
        line(std::string(lhead.size(), '-'));
        for (const auto& r : rs) {
            if (!r.spec.is_lb()) continue;
            std::string row = fmt::format("{:<17}", r.spec.name());
            const FrameRun* f = r.frame("call");
            if (r.status != CaseResult::Status::ok || !f) {
                line(row + "  " + status_name(r.status) + ": " + r.reason);
                continue;
            }
            const double ns = f->m.median_ns;
            row += fmt::format(" {:>6} {:>9.1f} {:>6.2f} {:>6.1f}", fmt::format("{} B", f->frame_len), ns, 1000.0 / ns,
                               f->m.max_ns - f->m.min_ns);
            row += coff && r.spec.kind == CaseKind::lb ? fmt::format(" {:>8.1f}", ns - *coff) : fmt::format(" {:>8}", "-");
            row += cdrop ? fmt::format(" {:>7.2f}", ns / *cdrop) : fmt::format(" {:>7}", "-");
            line(row);
        }
        line("-off ns: the load balancer's own cost: ns minus lb-call-off (the pipeline's parse + stats, and the "
             "per-call");
        line("overhead both include); /drop: relative to lb-call-drop (the bare XDP_DROP, timed the same way). "
             "Paths: see notes.");
    }

    bool any_note = false;
    for (const auto& r : rs) {
        if (r.status != CaseResult::Status::ok) continue;
        std::vector<std::string> notes = r.notes;
        if (!r.program.empty()) notes.insert(notes.begin(), "program " + r.program);
        if (r.entries) notes.push_back(fmt::format("{} classifier entries, set up in {:.0f} ms", *r.entries, r.setup_ms));
        for (const auto& n : notes) {
            if (!any_note) line("\nnotes:");
            any_note = true;
            line(fmt::format("  {:<17} {}", r.spec.name(), n));
        }
    }

    line("");
    std::vector<std::string> parts;
    bool ok = true, have = false;
    for (size_t len : opts.frame_sizes) {
        auto s = scaling_ratio(rs, fmt::format("miss-{}", len));
        if (!s) continue;
        have = true;
        ok = ok && *s <= kMaxScalingRatio;
        parts.push_back(fmt::format("{:.3f} ({} B)", *s, len));
    }
    if (have)
        line(fmt::format("scaling: cost(fw:10000) / cost(fw:10) = {}; promise <= {}: {}",
                         fmt::join(parts, ", "), kMaxScalingRatio, ok ? "OK" : "BROKEN"));
    else
        line("scaling: cost(fw:10000) / cost(fw:10) not measured (run cases fw:10 and fw:10000)");
    return out;
}

nlohmann::json render_json(const RunInfo& info, const std::vector<CaseResult>& rs,
                           const BenchOptions& opts) {
    using nlohmann::json;
    json j;
    j["tool"] = "xdpd-bench";
    j["date"] = info.date;
    j["kernel"] = info.kernel;
    j["cpu_model"] = info.cpu_model;
    j["online_cpus"] = info.online_cpus;
    j["pinned_cpu"] = info.pinned_cpu;
    j["loadavg"] = info.loadavg;
    j["command"] = info.command;
    j["method"] = {{"mechanism", "BPF_PROG_TEST_RUN"},
                   {"repeat", info.measure.repeat},
                   {"trials", info.measure.trials},
                   {"warmup_repeat", info.measure.warmup_repeat},
                   {"statistic", "median of trials of the kernel's per-run average (ns)"},
                   {"frame_sizes", opts.frame_sizes}};
    const std::string first = opts.frame_sizes.empty() ? "" : fmt::format("miss-{}", opts.frame_sizes.front());
    auto base10 = ns_of(find_ok(rs, CaseKind::firewall, 10), first);
    auto drop = ns_of(find_ok(rs, CaseKind::xdp_drop), first);
    json cases = json::array();
    for (const auto& r : rs) {
        json c;
        c["case"] = r.spec.name();
        c["status"] = status_name(r.status);
        if (!r.reason.empty()) c["reason"] = r.reason;
        if (!r.program.empty()) c["program"] = r.program;
        c["rules"] = r.rules ? json(*r.rules) : json(nullptr);
        c["tuples"] = r.tuples ? json(*r.tuples) : json(nullptr);
        if (r.entries) c["entries"] = *r.entries;
        if (r.setup_ms > 0) c["setup_ms"] = r.setup_ms;
        if (!r.notes.empty()) c["notes"] = r.notes;
        json frames = json::object();
        for (const auto& f : r.frames) {
            frames[f.label] = {{"frame_len", f.frame_len},
                               {"verdict", f.m.verdict},
                               {"ns", f.m.median_ns},
                               {"ns_min", f.m.min_ns},
                               {"ns_max", f.m.max_ns},
                               {"mpps", f.m.mpps()},
                               {"trials_ns", f.m.trial_ns},
                               // wall clock of the call / repeat: includes time the
                               // thread was preempted, which the kernel's figure excludes
                               {"wall_ns", f.m.median_wall_ns}};
        }
        c["frames"] = frames;
        auto ns = ns_of(&r, first);
        c["ratio_to_fw10"] = ns && base10 ? json(*ns / *base10) : json(nullptr);
        c["ratio_to_drop"] = ns && drop ? json(*ns / *drop) : json(nullptr);
        cases.push_back(c);
    }
    j["cases"] = cases;
    json scaling = json::object();
    bool ok = true, have = false;
    for (size_t len : opts.frame_sizes) {
        auto s = scaling_ratio(rs, fmt::format("miss-{}", len));
        scaling[fmt::format("miss-{}", len)] = s ? json(*s) : json(nullptr);
        if (s) {
            have = true;
            ok = ok && *s <= kMaxScalingRatio;
        }
    }
    j["scaling"] = {{"definition", "cost(fw:10000) / cost(fw:10), miss packet"},
                    {"bound", kMaxScalingRatio},
                    {"ratios", scaling},
                    {"ok", have ? json(ok) : json(nullptr)}};
    return j;
}

const char* verdict_name(__u32 a) {
    switch (a) {
    case XDPD_ACT_ABORTED: return "XDP_ABORTED";
    case XDPD_ACT_DROP: return "XDP_DROP";
    case XDPD_ACT_PASS: return "XDP_PASS";
    case XDPD_ACT_TX: return "XDP_TX";
    case XDPD_ACT_REDIRECT: return "XDP_REDIRECT";
    }
    return "?";
}

}  // namespace xdpd::bench
