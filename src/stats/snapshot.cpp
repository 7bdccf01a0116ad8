#include "stats/snapshot.hpp"
#include "util/clock.hpp"

#include <fmt/format.h>

#include <ctime>

#include "stats/names.hpp"

namespace xdpd::stats {
namespace {

template <size_t N>
nlohmann::json group(const xdpd_counter* c, const std::array<std::string_view, N>& names) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < N; ++i)
        j[std::string(names[i])] = {{"packets", c[i].packets}, {"bytes", c[i].bytes}};
    return j;
}

// {reason: {packets, bytes}}: every verdict together.
nlohmann::json reasons_json(const xdpd_if_stats& s) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t r = 0; r < XDPD_R_MAX; ++r) {
        const auto c = xdpd_reason_total(s, unsigned(r));
        j[std::string(kReasonNames[r])] = {{"packets", c.packets}, {"bytes", c.bytes}};
    }
    return j;
}

template <size_t N>
void ungroup(const nlohmann::json& j, xdpd_counter* c, const std::array<std::string_view, N>& names) {
    for (size_t i = 0; i < N; ++i) {
        auto it = j.find(std::string(names[i]));
        if (it == j.end()) continue;
        c[i].packets = it->at("packets").get<__u64>();
        c[i].bytes = it->at("bytes").get<__u64>();
    }
}

void add(xdpd_counter* d, const xdpd_counter* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        d[i].packets += s[i].packets;
        d[i].bytes += s[i].bytes;
    }
}

// {reason: {verdict: {packets, bytes}}}, reasons and verdicts with packets only.
nlohmann::json verdicts_json(const xdpd_if_stats& s) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t r = 0; r < XDPD_R_MAX; ++r)
        for (size_t v = 0; v < XDPD_VERDICTS; ++v)
            if (const auto& c = s.reason[r][v]; c.packets)
                j[std::string(kReasonNames[r])][std::string(kVerdictNames[v])] = {{"packets", c.packets},
                                                                                  {"bytes", c.bytes}};
    return j;
}

void verdicts_from_json(const nlohmann::json& j, xdpd_if_stats& s) {
    for (size_t r = 0; r < XDPD_R_MAX; ++r) {
        auto jr = j.find(std::string(kReasonNames[r]));
        if (jr == j.end()) continue;
        ungroup(*jr, s.reason[r], kVerdictNames);
    }
}

__u64 total_packets(const xdpd_if_stats& s) {
    __u64 n = 0;
    for (auto& c : s.action) n += c.packets;
    return n;
}

std::string human_rate(double v, const char* unit) {
    const char* p[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        ++i;
    }
    return fmt::format("{:.1f} {}{}", v, p[i], unit);
}

}  // namespace

Snapshot read(const bpf::MapRef& ifaces_map, const bpf::MapRef& stats_map) {
    Snapshot s;
    s.time = monotonic_s();
    bpf::Map<__u32, xdpd_iface> ifaces(ifaces_map);
    bpf::PerCpuMap<__u32, xdpd_if_stats> stats(stats_map);
    for (__u32 slot = 0; slot < XDPD_MAX_IFACES; ++slot) {
        auto info = ifaces.lookup(slot);
        if (!info || !info->ifindex) continue;
        IfaceCounters ic;
        ic.name = std::string(info->name, strnlen(info->name, sizeof info->name));
        ic.ifindex = info->ifindex;
        ic.slot = slot;
        ic.mode = info->mode;
        for (const auto& c : stats.lookup_all(slot)) {
            add(ic.total.action, c.action, XDPD_ACT_MAX);
            for (size_t r = 0; r < XDPD_R_MAX; ++r) add(ic.total.reason[r], c.reason[r], XDPD_VERDICTS);
            add(ic.total.l3, c.l3, XDPD_L3_MAX);
            add(ic.total.l4, c.l4, XDPD_L4_MAX);
        }
        s.ifaces.push_back(ic);
    }
    return s;
}

nlohmann::json to_json(const Snapshot& s) {
    nlohmann::json j;
    j["time"] = s.time;
    j["interfaces"] = nlohmann::json::array();
    for (const auto& i : s.ifaces)
        j["interfaces"].push_back({{"name", i.name},
                                   {"ifindex", i.ifindex},
                                   {"slot", i.slot},
                                   {"mode", i.mode},
                                   {"actions", group(i.total.action, kActionNames)},
                                   {"reasons", reasons_json(i.total)},
                                   {"verdicts", verdicts_json(i.total)},
                                   {"l3", group(i.total.l3, kL3Names)},
                                   {"l4", group(i.total.l4, kL4Names)}});
    return j;
}

Snapshot from_json(const nlohmann::json& j) {
    Snapshot s;
    s.time = j.at("time").get<double>();
    for (const auto& ji : j.at("interfaces")) {
        IfaceCounters i;
        i.name = ji.at("name").get<std::string>();
        i.ifindex = ji.at("ifindex").get<__u32>();
        i.slot = ji.at("slot").get<__u32>();
        i.mode = ji.value("mode", 0u);
        ungroup(ji.at("actions"), i.total.action, kActionNames);
        verdicts_from_json(ji.at("verdicts"), i.total);
        ungroup(ji.at("l3"), i.total.l3, kL3Names);
        ungroup(ji.at("l4"), i.total.l4, kL4Names);
        s.ifaces.push_back(i);
    }
    return s;
}

nlohmann::json rates_json(const Snapshot& prev, const Snapshot& cur) {
    nlohmann::json out = nlohmann::json::array();
    double dt = cur.time - prev.time;
    if (dt <= 0) dt = 1e-9;
    for (const auto& c : cur.ifaces) {
        const IfaceCounters* p = nullptr;
        for (const auto& x : prev.ifaces)
            if (x.slot == c.slot && x.ifindex == c.ifindex) p = &x;
        nlohmann::json ji = {{"name", c.name}, {"interval_s", dt}};
        for (size_t a = 0; a < XDPD_ACT_MAX; ++a) {
            __u64 dp = c.total.action[a].packets - (p ? p->total.action[a].packets : 0);
            __u64 db = c.total.action[a].bytes - (p ? p->total.action[a].bytes : 0);
            ji["actions"][std::string(kActionNames[a])] = {{"pps", double(dp) / dt},
                                                           {"bps", double(db) * 8 / dt}};
        }
        // {reason: {verdict: pps}}, only what moved
        ji["reasons"] = nlohmann::json::object();
        for (size_t r = 0; r < XDPD_R_MAX; ++r)
            for (size_t v = 0; v < XDPD_VERDICTS; ++v) {
                const __u64 n = c.total.reason[r][v].packets - (p ? p->total.reason[r][v].packets : 0);
                if (n) ji["reasons"][std::string(kReasonNames[r])][std::string(kVerdictNames[v])] = double(n) / dt;
            }
        out.push_back(ji);
    }
    return out;
}

std::string format_table(const Snapshot& cur, const Snapshot* prev) {
    std::string out;
    double dt = prev ? cur.time - prev->time : 0;
    for (const auto& c : cur.ifaces) {
        const IfaceCounters* p = nullptr;
        if (prev)
            for (const auto& x : prev->ifaces)
                if (x.slot == c.slot && x.ifindex == c.ifindex) p = &x;
        out += fmt::format("{} (ifindex {}): {} packets\n", c.name, c.ifindex, total_packets(c.total));
        out += fmt::format("  {:<18} {:>14} {:>16}", "action", "packets", "bytes");
        if (p) out += fmt::format(" {:>14} {:>14}", "rate", "bit rate");
        out += "\n";
        for (size_t a = 0; a < XDPD_ACT_MAX; ++a) {
            const auto& v = c.total.action[a];
            if (!v.packets && a != XDPD_ACT_PASS && a != XDPD_ACT_DROP) continue;
            out += fmt::format("  {:<18} {:>14} {:>16}", kActionNames[a], v.packets, v.bytes);
            if (p && dt > 0)
                out += fmt::format(" {:>14} {:>14}",
                                   human_rate(double(v.packets - p->total.action[a].packets) / dt, "pps"),
                                   human_rate(double(v.bytes - p->total.action[a].bytes) * 8 / dt, "bit/s"));
            out += "\n";
        }
        bool any = false;
        for (size_t r = 0; r < XDPD_R_MAX; ++r) {
            const auto& v = xdpd_reason_total(c.total, r);
            if (!v.packets) continue;
            if (!any) out += fmt::format("  {:<18} {:>14} {:>16}\n", "reason", "packets", "bytes");
            any = true;
            out += fmt::format("  {:<18} {:>14} {:>16}\n", kReasonNames[r], v.packets, v.bytes);
        }
        std::string l;
        for (size_t i = 0; i < XDPD_L3_MAX; ++i)
            if (c.total.l3[i].packets) l += fmt::format(" {}={}", kL3Names[i], c.total.l3[i].packets);
        for (size_t i = 0; i < XDPD_L4_MAX; ++i)
            if (c.total.l4[i].packets) l += fmt::format(" {}={}", kL4Names[i], c.total.l4[i].packets);
        if (!l.empty()) out += "  protocols:" + l + "\n";
    }
    if (cur.ifaces.empty()) out += "no interfaces attached\n";
    return out;
}

}  // namespace xdpd::stats
