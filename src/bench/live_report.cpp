#include "bench/live_report.hpp"

#include <cmath>

#include <fmt/format.h>

namespace xdpd::bench {
namespace {

const LiveResult* find_ok(const LiveRun& run, LiveKind k) {
    for (const auto& r : run.results)
        if (r.c.kind == k && r.status == LiveResult::Status::ok) return &r;
    return nullptr;
}

nlohmann::json sample_json(const LiveSample& s) {
    return {{"t_s", s.t},        {"read_ms", s.read_ms},         {"sent", s.sent},
            {"xmit", s.xmit},    {"xmit_errors", s.xmit_errors}, {"dropped", s.dropped},
            {"xdp_drops", s.xdp_drops}, {"socket_drops", s.socket_drops}, {"app_cpu_s", s.app_cpu_s}, {"napi_cpu_s", s.napi_cpu_s},
            {"cpu_busy_s", s.cpu_busy_s}, {"cpu_total_s", s.cpu_total_s}};
}

}  // namespace

namespace {

std::string render_sockets_table(const LiveRun& run, const LiveOptions& o) {
    const auto& i = run.info;
    std::string cpus;
    for (int c : o.receive_cpus()) cpus += (cpus.empty() ? "" : "+") + std::to_string(c);
    std::string s = fmt::format(
        "xdpd-livebench --sockets: packets/s a userspace receiver gets from a flooded veth, and its CPU, in one run\n"
        "{} | Linux {} | {} | {} CPUs | load {}\n"
        "flood: {}\n"
        "generator: BPF_PROG_TEST_RUN live frames (XDP_TX), {} process(es) pinned to CPU {}\n"
        "receive side: {}; receiving thread / testpmd forwarding lcore on CPU {} (testpmd main lcore: CPU {})\n"
        "each case: {:.1f} s warm-up, then {:.1f} s measured. veth: AF_XDP copy mode only (no zero-copy), no NIC\n\n",
        i.date, i.kernel, i.cpu_model, i.online_cpus, i.loadavg, run.frame, o.gen_procs, o.gen_cpu, run.napi,
        o.app_cpu_or_default(), o.gen_cpu, o.warmup, o.seconds);
    s += fmt::format("{:<18} {:>8} {:>8} {:>6} {:>6} {:>10} {:>6} {:>6} {:>6} {:>8}  {}\n", "case", "received",
                     "into rx", "lost", "ring", "sock drops", "CPU", "NAPI", "app", "Mpps per", "where");
    s += fmt::format("{:<18} {:>8} {:>8} {:>6} {:>6} {:>10} {:>6} {:>6} {:>6} {:>8}\n", "", "Mpps", "Mpps", "", "full",
                     "", "cpu " + cpus, "thread", "", "CPU-s");
    s += std::string(117, '-') + "\n";
    for (const auto& r : run.results) {
        if (r.status != LiveResult::Status::ok) {
            s += fmt::format("{:<18} failed: {}\n", r.c.name, r.error);
            continue;
        }
        s += fmt::format(
            "{:<18} {:>8.3f} {:>8.3f} {:>5.1f}% {:>5.1f}% {:>10} {:>5.0f}% {:>5.0f}% {:>5.0f}% {:>8.3f}  {}\n", r.c.name,
            r.dropped_mpps(), r.delivered_mpps(), 100 * r.lost_share(), 100 * r.ring_full_share(),
            r.socket ? std::to_string(r.end.socket_drops - r.start.socket_drops) : "-", 100 * r.cpu_busy(),
            100 * r.napi_cpu(), 100 * r.app_cpu(), r.mpps_per_cpu(), r.where);
    }
    s += "\nreceived: packets the receiver counted (drop: XDP_DROPs of the bare program; sockets: packets the\n"
         "application got) / interval. into rx: frames the sender's veth put into the receiver's ring.\n"
         "lost: share of those the application did not get (socket full, or dropped on the way to it);\n"
         "ring full: share of the offered frames lost before, at the receiver veth's ring (NAPI too slow).\n"
         "sock drops: the socket's own drop counter over the interval. CPU: busy time of the receive\n"
         "side's CPU(s) from /proc/stat (NAPI + application + ANY other task there; 100% = one CPU).\n"
         "NAPI thread / app: CPU time of the receiver's NAPI thread and of the receiving thread\n"
         "(testpmd: all its threads), as a share of the interval. Mpps per CPU-s: received packets per\n"
         "CPU-second of NAPI thread + app (not disturbed by other tasks on that CPU).\n";
    auto problems = check_live(run, 0.01);
    s += problems.empty() ? "check: every receiver counted packets, none more than it was handed\n" : "check FAILED:\n";
    for (const auto& p : problems) s += "  " + p + "\n";
    return s;
}

}  // namespace

std::string render_live_table(const LiveRun& run, const LiveOptions& o) {
    if (o.sockets) return render_sockets_table(run, o);
    const auto& i = run.info;
    std::string s = fmt::format(
        "xdpd-livebench: packets dropped per second on an attacked veth, measured live, in one run\n"
        "{} | Linux {} | {} | {} CPUs | load {}\n"
        "flood: {}\n"
        "generator: BPF_PROG_TEST_RUN live frames (XDP_TX), {} process(es) pinned to CPU {}; {}\n"
        "each case: {:.1f} s warm-up, then {:.1f} s measured; Mpps = the mechanism's own counter / interval\n\n",
        i.date, i.kernel, i.cpu_model, i.online_cpus, i.loadavg, run.frame, o.gen_procs, o.gen_cpu, run.napi, o.warmup,
        o.seconds);
    const LiveResult* base = find_ok(run, LiveKind::drop);
    s += fmt::format("{:<15} {:>9} {:>8} {:>9} {:>9} {:>6} {:>7}  {}\n", "case", "dropped", "ns/pkt", "offered",
                     "into rx", "lost", "/drop", "where; counter");
    s += fmt::format("{:<15} {:>9} {:>8} {:>9} {:>9} {:>6} {:>7}\n", "", "Mpps", "", "Mpps", "Mpps", "ring", "");
    s += std::string(100, '-') + "\n";
    for (const auto& r : run.results) {
        if (r.status != LiveResult::Status::ok) {
            s += fmt::format("{:<15} error: {}\n", r.c.name, r.error);
            continue;
        }
        double d = r.dropped_mpps();
        std::string rel = base && base->dropped_mpps() > 0 ? fmt::format("{:.2f}", d / base->dropped_mpps()) : "-";
        s += fmt::format("{:<15} {:>9.3f} {:>8.0f} {:>9.3f} {:>9.3f} {:>5.0f}% {:>7}  {}; {}\n", r.c.name, d,
                         d > 0 ? 1000.0 / d : 0.0, r.offered_mpps(), r.delivered_mpps(), 100 * r.ring_full_share(),
                         rel, r.where, r.counter);
    }
    s += "\noffered: frames the sender's veth tried to hand over; into rx: those it put into the receiver's\n"
         "ring; lost ring: share of the offered frames lost because that ring was full (the receiver\n"
         "was the bottleneck). ns/pkt = 1000 / dropped Mpps: the receiver's time per packet when it is the\n"
         "bottleneck. /drop: dropped Mpps relative to the bare XDP_DROP row of this run.\n";
    auto problems = check_live(run, 0.01);
    s += problems.empty() ? "check: every mechanism counted all frames it was handed (within 1%)\n"
                          : "check FAILED:\n";
    for (const auto& p : problems) s += "  " + p + "\n";
    return s;
}

nlohmann::json render_live_json(const LiveRun& run, const LiveOptions& o) {
    const auto& i = run.info;
    nlohmann::json j = {
        {"date", i.date},         {"kernel", i.kernel},     {"cpu_model", i.cpu_model},
        {"online_cpus", i.online_cpus}, {"loadavg", i.loadavg}, {"command", i.command},
        {"flood", run.frame},     {"napi", run.napi},       {"generator_cpu", o.gen_cpu},
        {"receiver_cpu", o.rx_cpu}, {"generator_procs", o.gen_procs}, {"rt", o.rt}, {"seconds", o.seconds}, {"warmup_s", o.warmup},
        {"frame_len", o.frame_len}, {"app_cpu", o.app_cpu_or_default()}, {"receive_cpus", o.receive_cpus()},
        {"af_xdp_mode_note", "veth: AF_XDP copy mode only (no zero-copy driver); no NIC, 2 vCPUs shared by generator and receiver"}};
    j["cases"] = nlohmann::json::array();
    for (const auto& r : run.results) {
        nlohmann::json c = {{"case", r.c.name}, {"status", r.status == LiveResult::Status::ok ? "ok" : "error"}};
        if (r.status != LiveResult::Status::ok) {
            c["error"] = r.error;
        } else {
            c.update({{"where", r.where},
                      {"counter", r.counter},
                      {"interval_s", r.seconds()},
                      {"dropped_mpps", r.dropped_mpps()},
                      {"offered_mpps", r.offered_mpps()},
                      {"delivered_mpps", r.delivered_mpps()},
                      {"ring_full_share", r.ring_full_share()},
                      {"total_sent", r.total_sent()},
                      {"total_delivered", r.total_delivered()},
                      {"total_dropped", r.total_dropped()},
                      {"socket", r.socket},
                      {"received_mpps", r.dropped_mpps()},
                      {"lost_share", r.lost_share()},
                      {"socket_drops", r.end.socket_drops - r.start.socket_drops},
                      {"receive_cpu_busy", r.cpu_busy()},
                      {"app_cpu", r.app_cpu()},
                      {"napi_cpu", r.napi_cpu()},
                      {"receive_cpu_seconds", r.receive_cpu_seconds()},
                      {"mpps_per_cpu_second", r.mpps_per_cpu()},
                      {"samples",
                       {{"before", sample_json(r.before)},
                        {"start", sample_json(r.start)},
                        {"end", sample_json(r.end)},
                        {"after", sample_json(r.after)}}}});
        }
        j["cases"].push_back(c);
    }
    j["check_problems"] = check_live(run, 0.01);
    return j;
}

std::vector<std::string> check_live(const LiveRun& run, double tol) {
    std::vector<std::string> p;
    for (const auto& r : run.results) {
        if (r.status != LiveResult::Status::ok) {
            p.push_back(r.c.name + ": " + r.error);
            continue;
        }
        uint64_t handed = r.total_delivered(), dropped = r.total_dropped();
        if (r.socket) {
            // A userspace receiver may lose frames (that is measured), but
            // must count some, and never more than it was handed.
            if (dropped == 0) p.push_back(r.c.name + ": the receiver counted no packets");
            if (double(dropped) > double(handed) * (1 + tol) + 16)
                p.push_back(fmt::format("{}: counted {} packets but only {} were handed to it", r.c.name, dropped,
                                        handed));
            continue;
        }
        if (dropped == 0) p.push_back(r.c.name + ": the mechanism counted no drops");
        if (r.total_sent() == 0) p.push_back(r.c.name + ": the generator sent nothing");
        // A few packets of the kernel's own (e.g. IPv6 neighbour discovery) may
        // be handed over too: they pass, they are not counted as drops.
        double diff = std::fabs(double(handed) - double(dropped));
        if (diff > tol * double(handed) + 16)
            p.push_back(fmt::format("{}: {} frames handed to the receiver, {} counted as dropped", r.c.name, handed,
                                    dropped));
        if (handed > r.total_sent())
            p.push_back(fmt::format("{}: {} frames handed over but only {} sent", r.c.name, handed, r.total_sent()));
    }
    return p;
}

}  // namespace xdpd::bench
