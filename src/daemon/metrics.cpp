#include "daemon/metrics.hpp"
#include "util/clock.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "bpf/pipeline.hpp"
#include "bpf/runtime.hpp"
#include "metrics/exposition.hpp"
#include "stats/names.hpp"
#include "stats/snapshot.hpp"

#ifndef XDPD_VERSION
#define XDPD_VERSION "dev"
#endif

namespace xdpd::daemon {
namespace {

using metrics::Exposition;
using T = Exposition::Type;

std::string s(std::string_view v) { return std::string(v); }

// process_* metrics, as every Prometheus client library exports them.
void process_metrics(Exposition& x) {
    x.family("process_cpu_seconds_total", T::counter, "User and system CPU time the daemon has used, in seconds.");
    x.family("process_resident_memory_bytes", T::gauge, "The daemon's resident memory, in bytes.");
    x.family("process_open_fds", T::gauge, "File descriptors the daemon has open.");
    x.family("process_start_time_seconds", T::gauge, "When the daemon started, in seconds since the epoch.");
    std::ifstream stat("/proc/self/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the command name, which is in parentheses and may hold spaces.
    std::istringstream in(line.substr(line.rfind(')') + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(in), {}};
    const double tick = double(sysconf(_SC_CLK_TCK));
    if (f.size() > 21) {
        x.sample("process_cpu_seconds_total", (std::stod(f[11]) + std::stod(f[12])) / tick);
        x.sample("process_resident_memory_bytes", std::stod(f[21]) * double(sysconf(_SC_PAGESIZE)));
        double boot = 0;
        std::ifstream st("/proc/stat");
        for (std::string l; std::getline(st, l);)
            if (l.rfind("btime ", 0) == 0) boot = std::stod(l.substr(6));
        x.sample("process_start_time_seconds", boot + std::stod(f[19]) / tick);
    }
    size_t fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (readdir(d)) ++fds;
        closedir(d);
        fds = fds >= 3 ? fds - 3 : 0;  // ".", ".." and the directory's own fd
    }
    x.sample("process_open_fds", double(fds));
}

void interface_metrics(Exposition& x, const DataPlane& dp) {
    x.family("xdpd_packets_total", T::counter, "Packets the data plane handled, by interface and XDP action.");
    x.family("xdpd_bytes_total", T::counter, "Bytes the data plane handled, by interface and XDP action.");
    x.family("xdpd_verdict_packets_total", T::counter,
             "Packets by interface, XDP action and the reason for it (every packet once).");
    x.family("xdpd_verdict_bytes_total", T::counter, "Bytes by interface, XDP action and reason.");
    x.family("xdpd_l3_packets_total", T::counter, "Packets by interface and network protocol.");
    x.family("xdpd_l3_bytes_total", T::counter, "Bytes by interface and network protocol.");
    x.family("xdpd_l4_packets_total", T::counter, "Packets by interface and transport protocol.");
    x.family("xdpd_l4_bytes_total", T::counter, "Bytes by interface and transport protocol.");
    x.family("xdpd_interface_info", T::gauge, "1 per interface xdpd serves, with its XDP attach mode and program id.");
    x.family("xdpd_interface_attached", T::gauge, "1 when the interface's XDP link is attached, else 0.");
    if (!dp.exists()) return;
    const auto snap = stats::read(dp.pinned("xdpd_ifaces"), dp.pinned("xdpd_stats"));
    for (const auto& i : snap.ifaces) {
        for (size_t a = 0; a < XDPD_ACT_MAX; ++a) {
            const metrics::Labels l = {{"interface", i.name}, {"action", s(stats::kActionNames[a])}};
            x.sample("xdpd_packets_total", l, uint64_t(i.total.action[a].packets));
            x.sample("xdpd_bytes_total", l, uint64_t(i.total.action[a].bytes));
        }
        for (size_t r = 0; r < XDPD_R_MAX; ++r)
            for (size_t v = 0; v < XDPD_VERDICTS; ++v) {
                const auto& c = i.total.reason[r][v];
                if (!c.packets) continue;  // 38 reasons x 4 verdicts: only those that happen
                const metrics::Labels l = {{"interface", i.name},
                                           {"action", s(stats::kVerdictNames[v])},
                                           {"reason", s(stats::kReasonNames[r])}};
                x.sample("xdpd_verdict_packets_total", l, uint64_t(c.packets));
                x.sample("xdpd_verdict_bytes_total", l, uint64_t(c.bytes));
            }
        for (size_t p = 0; p < XDPD_L3_MAX; ++p) {
            const metrics::Labels l = {{"interface", i.name}, {"proto", s(stats::kL3Names[p])}};
            x.sample("xdpd_l3_packets_total", l, uint64_t(i.total.l3[p].packets));
            x.sample("xdpd_l3_bytes_total", l, uint64_t(i.total.l3[p].bytes));
        }
        for (size_t p = 0; p < XDPD_L4_MAX; ++p) {
            const metrics::Labels l = {{"interface", i.name}, {"proto", s(stats::kL4Names[p])}};
            x.sample("xdpd_l4_packets_total", l, uint64_t(i.total.l4[p].packets));
            x.sample("xdpd_l4_bytes_total", l, uint64_t(i.total.l4[p].bytes));
        }
    }
    for (const auto& i : dp.interfaces()) {
        const std::string name = i.value("name", "");
        const bool attached = i.value("attached", false);
        x.sample("xdpd_interface_attached", {{"interface", name}}, attached ? 1.0 : 0.0);
        x.sample("xdpd_interface_info",
                 {{"interface", name},
                  {"ifindex", std::to_string(i.value("ifindex", 0u))},
                  {"mode", i.value("mode", "none")},
                  {"prog_id", std::to_string(i.value("prog_id", 0u))}},
                 1.0);
    }
}

void firewall_metrics(Exposition& x, const DataPlane& dp) {
    x.family("xdpd_rule_packets_total", T::counter, "Packets each firewall rule matched (deciding or counting).");
    x.family("xdpd_rule_bytes_total", T::counter, "Bytes each firewall rule matched.");
    x.family("xdpd_firewall_rules", T::gauge, "Rules in the rule set in force.");
    x.family("xdpd_firewall_monitor", T::gauge, "1 in monitor mode (deny verdicts counted, not enforced).");
    x.family("xdpd_firewall_generation", T::gauge, "The rule-set generation packets use (0 or 1; flips on reload).");
    const auto rules = dp.rule_counters();
    for (const auto& r : rules) {
        const metrics::Labels l = {{"rule", r.id}, {"action", s(fw::to_string(r.action))}};
        x.sample("xdpd_rule_packets_total", l, uint64_t(r.total.packets));
        x.sample("xdpd_rule_bytes_total", l, uint64_t(r.total.bytes));
    }
    x.sample("xdpd_firewall_rules", double(rules.size()));
    if (dp.exists()) {
        bpf::RuntimeView rt(dp.pinned("xdpd_runtime"));
        x.sample("xdpd_firewall_monitor", double(rt.load(rt->monitor)));
        x.sample("xdpd_firewall_generation", double(rt.load(rt->active_gen)));
    }
}

void mitigation_metrics(Exposition& x, const mitigation::Mitigator& mit, const mitigation::EventLog& events) {
    x.family("xdpd_watch_attack", T::gauge, "1 while the watch is under attack.");
    x.family("xdpd_watch_rate_pps", T::gauge, "The watch's smoothed packet rate, packets/s.");
    x.family("xdpd_watch_rate_bps", T::gauge, "The watch's smoothed rate, bits/s.");
    x.family("xdpd_watch_syn_pps", T::gauge, "The watch's smoothed TCP SYN rate, packets/s.");
    x.family("xdpd_watch_sources", T::gauge, "Distinct sources per interval seen by the watch (HyperLogLog).");
    x.family("xdpd_attacks_total", T::counter, "Attacks detected since the daemon started, per watch.");
    const auto st = mit.status();
    for (const auto& w : st.at("watches")) {
        const std::string name = w.value("name", "");
        const metrics::Labels l = {{"watch", name}};
        x.sample("xdpd_watch_attack", l, w.value("state", "") == "attack" ? 1.0 : 0.0);
        const auto& r = w.at("rates");
        x.sample("xdpd_watch_rate_pps", l, r.value("pps", 0.0));
        x.sample("xdpd_watch_rate_bps", l, r.value("bps", 0.0));
        x.sample("xdpd_watch_syn_pps", l, r.value("syn_pps", 0.0));
        x.sample("xdpd_watch_sources", l, r.value("sources", 0.0));
        auto it = events.counts().find({"attack_start", name});
        x.sample("xdpd_attacks_total", l, uint64_t(it == events.counts().end() ? 0 : it->second));
    }
}

void lb_metrics(Exposition& x, const DataPlane& dp, uint64_t flows) {
    x.family("xdpd_lb_vip_packets_total", T::counter, "Packets of each load-balanced service, by direction.");
    x.family("xdpd_lb_vip_bytes_total", T::counter, "Bytes of each load-balanced service, by direction.");
    x.family("xdpd_lb_vip_new_flows_total", T::counter, "Flows each service sent to a backend from its ring.");
    x.family("xdpd_lb_vip_errors_total", T::counter, "Packets to each service not forwarded, by cause.");
    x.family("xdpd_lb_backend_packets_total", T::counter, "Packets to (forward) and from (reply) each backend.");
    x.family("xdpd_lb_backend_bytes_total", T::counter, "Bytes to and from each backend.");
    x.family("xdpd_lb_backend_new_flows_total", T::counter, "New flows each backend was given.");
    x.family("xdpd_lb_backend_up", T::gauge, "1 when the backend passes its health checks.");
    x.family("xdpd_lb_backend_weight", T::gauge, "The backend's weight in force (0: drained).");
    x.family("xdpd_lb_backend_ring_share", T::gauge, "Share of the service's Maglev table the backend holds (0..1).");
    x.family("xdpd_lb_flows", T::gauge, "Entries in the connection table (counted every 10 s).");
    x.family("xdpd_lb_flows_max", T::gauge, "Capacity of the connection table.");
    const auto services = dp.lb_status();
    for (const auto& sv : services) {
        const std::string name = sv.value("name", "");
        for (const char* dir : {"forward", "reply"}) {
            const bool fwd = dir[0] == 'f';
            const metrics::Labels l = {{"service", name}, {"direction", dir}};
            x.sample("xdpd_lb_vip_packets_total", l, sv.value(fwd ? "packets" : "reply_packets", uint64_t(0)));
            x.sample("xdpd_lb_vip_bytes_total", l, sv.value(fwd ? "bytes" : "reply_bytes", uint64_t(0)));
        }
        x.sample("xdpd_lb_vip_new_flows_total", {{"service", name}}, sv.value("new_flows", uint64_t(0)));
        for (const char* e : {"no_backend", "no_route", "oversized", "fragments", "not_inserted"})
            x.sample("xdpd_lb_vip_errors_total",
                     {{"service", name}, {"error", std::string(e) == "fragments" ? "fragment" : e}},
                     sv.value(e, uint64_t(0)));
        for (const auto& b : sv.at("backends")) {
            const std::string be = b.value("backend", "");
            for (const char* dir : {"forward", "reply"}) {
                const bool fwd = dir[0] == 'f';
                const metrics::Labels l = {{"service", name}, {"backend", be}, {"direction", dir}};
                x.sample("xdpd_lb_backend_packets_total", l, b.value(fwd ? "packets" : "reply_packets", uint64_t(0)));
                x.sample("xdpd_lb_backend_bytes_total", l, b.value(fwd ? "bytes" : "reply_bytes", uint64_t(0)));
            }
            const metrics::Labels l = {{"service", name}, {"backend", be}};
            x.sample("xdpd_lb_backend_new_flows_total", l, b.value("new_flows", uint64_t(0)));
            x.sample("xdpd_lb_backend_up", l, b.value("health", "") == "up" ? 1.0 : 0.0);
            x.sample("xdpd_lb_backend_weight", l, b.value("weight", 0.0));
            x.sample("xdpd_lb_backend_ring_share", l, b.value("ring_share", 0.0));
        }
    }
    x.sample("xdpd_lb_flows", double(flows));
    x.sample("xdpd_lb_flows_max", double(XDPD_LB_MAX_FLOWS));
}

// Steering: per interface and RX queue, packets redirected to the queue's
// AF_XDP socket or finding none; per target CPU, packets sent by CPUMAP.
void steer_metrics(Exposition& x, const DataPlane& dp) {
    x.family("xdpd_xsk_packets_total", T::counter,
             "Packets steered to AF_XDP, by interface and RX queue: redirected to the queue's socket, or no_socket.");
    x.family("xdpd_xsk_bytes_total", T::counter, "Bytes steered to AF_XDP, by interface, RX queue and result.");
    x.family("xdpd_steer_cpu_packets_total", T::counter, "Packets steered to each CPU's CPUMAP thread.");
    if (!dp.exists()) return;
    std::map<__u32, std::string> iface_of_slot;
    __u32 last = 0;
    for (const auto& i : dp.interfaces()) {
        const __u32 slot = i.value("slot", 0u);
        iface_of_slot[slot] = i.value("name", "");
        last = std::max(last, __u32(XDPD_XSK_INDEX(slot, XDPD_XSK_MAX_QUEUES - 1)));
    }
    if (!iface_of_slot.empty()) {
        bpf::PerCpuMap<__u32, xdpd_xsk_queue_stats> qs(dp.pinned("xdpd_steer_xsk_stats"));
        qs.for_each_index(last, [&](__u32 idx, const xdpd_xsk_queue_stats* per_cpu) {
            const auto it = iface_of_slot.find(idx / XDPD_XSK_MAX_QUEUES);
            if (it == iface_of_slot.end()) return;
            xdpd_xsk_queue_stats t{};
            for (int c = 0; c < qs.cpus(); ++c) {
                t.redirected.packets += per_cpu[c].redirected.packets;
                t.redirected.bytes += per_cpu[c].redirected.bytes;
                t.no_socket.packets += per_cpu[c].no_socket.packets;
                t.no_socket.bytes += per_cpu[c].no_socket.bytes;
            }
            if (!t.redirected.packets && !t.no_socket.packets) return;  // queues that steer only
            for (const auto& [result, n] : {std::pair{"redirect", t.redirected}, std::pair{"no_socket", t.no_socket}}) {
                const metrics::Labels l = {{"interface", it->second},
                                           {"queue", std::to_string(idx % XDPD_XSK_MAX_QUEUES)},
                                           {"result", result}};
                x.sample("xdpd_xsk_packets_total", l, uint64_t(n.packets));
                x.sample("xdpd_xsk_bytes_total", l, uint64_t(n.bytes));
            }
        });
    }
    bpf::PerCpuMap<__u32, xdpd_counter> cpu(dp.pinned("xdpd_steer_cpu_stats"));
    cpu.for_each_index(__u32(bpf::possible_cpus() - 1), [&](__u32 target, const xdpd_counter* per_cpu) {
        uint64_t n = 0;
        for (int c = 0; c < cpu.cpus(); ++c) n += per_cpu[c].packets;
        if (n && target < __u32(bpf::possible_cpus()))
            x.sample("xdpd_steer_cpu_packets_total", {{"cpu", std::to_string(target)}}, n);
    });
}

}  // namespace

std::string MetricsRenderer::render(const DataPlane& dp, const mitigation::Mitigator& mit,
                                    const mitigation::EventLog& events, const observe::Observer& obs,
                                    const DaemonFacts& facts) {
    Exposition x;
    x.family("xdpd_build_info", T::gauge, "1, labelled with the xdpd version.");
    x.sample("xdpd_build_info", {{"version", XDPD_VERSION}}, 1.0);
    x.family("xdpd_start_time_seconds", T::gauge, "When the daemon started, in seconds since the epoch.");
    x.sample("xdpd_start_time_seconds", facts.start_time);
    x.family("xdpd_reloads_total", T::counter, "Config reloads since the daemon started, by result.");
    x.sample("xdpd_reloads_total", {{"result", "ok"}}, facts.reloads_ok);
    x.sample("xdpd_reloads_total", {{"result", "rejected"}}, facts.reloads_rejected);
    x.family("xdpd_program_loads_total", T::counter, "XDP programs the daemon loaded into the kernel.");
    x.sample("xdpd_program_loads_total", {}, bpf::Pipeline::loads());
    x.family("xdpd_scrape_duration_seconds", T::gauge, "How long the previous scrape took to render, in seconds.");
    x.sample("xdpd_scrape_duration_seconds", facts.last_scrape_s);
    process_metrics(x);

    const double now = monotonic_s();
    if (now - counted_at_ >= kCountEvery && dp.exists()) {
        buckets_ = bpf::count_entries(dp.pinned("xdpd_buckets"));
        flows_ = bpf::count_entries(dp.pinned("xdpd_lb_flows"));
        counted_at_ = now;
    }
    interface_metrics(x, dp);
    firewall_metrics(x, dp);

    x.family("xdpd_bans", T::gauge, "Sources or prefixes on the ban list, by origin.");
    for (const auto& [origin, n] : dp.ban_counts()) x.sample("xdpd_bans", {{"origin", origin}}, double(n));
    x.family("xdpd_allow_entries", T::gauge, "Entries on the allow list.");
    x.family("xdpd_ratelimit_buckets", T::gauge, "Rate-limit buckets in use (counted every 10 s).");
    x.family("xdpd_ratelimit_buckets_max", T::gauge, "Capacity of the rate-limit bucket table.");
    if (dp.exists()) {
        bpf::RuntimeView rt(dp.pinned("xdpd_runtime"));
        x.sample("xdpd_allow_entries", double(rt.load(rt->n_allow)));
        x.sample("xdpd_ratelimit_buckets", double(buckets_));
        x.sample("xdpd_ratelimit_buckets_max", double(XDPD_MAX_BUCKETS));
    }
    mitigation_metrics(x, mit, events);

    x.family("xdpd_map_max_entries", T::gauge, "Capacity of each pinned BPF map.");
    x.family("xdpd_map_memory_bytes", T::gauge, "Locked memory of each pinned BPF map (the kernel's figure).");
    x.family("xdpd_map_entries", T::gauge, "Entries in use in the maps that count them (tables: every 10 s).");
    for (const auto& m : dp.map_info()) {
        x.sample("xdpd_map_max_entries", {{"map", m.name}}, double(m.max_entries));
        x.sample("xdpd_map_memory_bytes", {{"map", m.name}}, double(m.memlock));
    }
    if (dp.exists()) {
        bpf::RuntimeView rt(dp.pinned("xdpd_runtime"));
        x.sample("xdpd_map_entries", {{"map", "xdpd_bans"}}, double(rt.load(rt->n_bans)));
        x.sample("xdpd_map_entries", {{"map", "xdpd_allow"}}, double(rt.load(rt->n_allow)));
        x.sample("xdpd_map_entries", {{"map", "xdpd_buckets"}}, double(buckets_));
        x.sample("xdpd_map_entries", {{"map", "xdpd_lb_flows"}}, double(flows_));
    }

    x.family("xdpd_top_source_pps", T::gauge, "Packet rate of the heaviest sources (sampled; only the top N).");
    x.family("xdpd_top_source_dropped_pps", T::gauge, "Dropped packet rate of the heaviest sources (sampled).");
    for (const auto& src : obs.top()) {
        x.sample("xdpd_top_source_pps", {{"source", src.addr}}, src.pps);
        x.sample("xdpd_top_source_dropped_pps", {{"source", src.addr}}, src.dropped_pps);
    }
    lb_metrics(x, dp, flows_);
    steer_metrics(x, dp);

    const auto c = obs.counters();
    x.family("xdpd_capture_active", T::gauge, "1 while an `xdpd capture` runs.");
    x.sample("xdpd_capture_active", c.capture_active ? 1.0 : 0.0);
    x.family("xdpd_capture_packets_total", T::counter,
             "Packets captures wrote (sent) or could not (lost: perf buffer full), all captures.");
    x.sample("xdpd_capture_packets_total", {{"result", "sent"}}, c.capture_sent);
    x.sample("xdpd_capture_packets_total", {{"result", "lost"}}, c.capture_lost);
    x.family("xdpd_events_total", T::counter, "Events logged since the daemon started, by type.");
    std::map<std::string, uint64_t> by_type;
    for (const auto& [k, n] : events.counts()) by_type[k.first] += n;
    for (const auto& [type, n] : by_type) x.sample("xdpd_events_total", {{"type", type}}, n);
    x.family("xdpd_events_dropped_total", T::counter,
             "Data-plane events not sent: over events.rate per CPU, or the ring buffer full.");
    x.sample("xdpd_events_dropped_total", {}, c.events_dropped);
    return x.str();
}

}  // namespace xdpd::daemon
