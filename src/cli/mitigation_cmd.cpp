// `xdpd mitigation` and `xdpd events`: automatic mitigation's watches, their
// smoothed rates against thresholds, attacks in progress, and the event log.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include "api/socket.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"

namespace xdpd::cli {
namespace {

std::string join(const nlohmann::json& arr, const char* sep = ", ") {
    std::string out;
    for (const auto& v : arr) out += (out.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
    return out;
}

// One line per event, as an operator scans a log.
std::string describe_event(const nlohmann::json& e) {
    const std::string type = e.value("type", "");
    std::string head = fmt::format("#{} {} {:<14} {:<10}", e.value("seq", 0), local_time(e.value("time", 0.0)),
                                   type, e.value("watch", ""));
    if (type == "attack_start")
        return head + fmt::format(" trigger: {}; actions: {}", join(e["trigger"]), join(e["actions"]));
    if (type == "attack_end") {
        std::string top;
        for (const auto& s : e.value("top_sources", nlohmann::json::array())) {
            if (!top.empty()) top += ", ";
            top += fmt::format("{} {} pps", s.value("source", ""), si(s.value("pps", 0.0)));
            if (top.size() > 80) break;
        }
        const auto& p = e["peak"];
        return head + fmt::format(" after {:.0f} s ({}); peak {} pps, {} bit/s, {} SYN/s, {} sources/s; "
                                  "{} bans; top: {}",
                                  e.value("duration_s", 0.0), e.value("reason", ""), si(p.value("pps", 0.0)),
                                  si(p.value("bps", 0.0)), si(p.value("syn_pps", 0.0)),
                                  si(p.value("sources", 0.0)), e.value("bans", 0), top.empty() ? "-" : top);
    }
    if (type == "ban")
        return head + fmt::format(" banned {} ({} pps > {}) for {} s", e.value("source", ""),
                                  si(e.value("pps", 0.0)), si(e.value("over_pps", 0.0)), e.value("duration_s", 0));
    if (type.rfind("packet_", 0) == 0) {  // from the data plane
        if (e.contains("held_back"))
            return head + fmt::format(" {} more like it{} in the last {:.0f} s", e.value("held_back", 0),
                                      e.contains("src") ? " from " + e.value("src", "") : "", e.value("window_s", 0.0));
        std::string what = fmt::format(" {} {} on {}", e.value("verdict", ""), e.value("reason", ""),
                                       e.value("interface", ""));
        if (e.contains("src")) {
            what += fmt::format(": {} -> {} proto {}", e.value("src", ""), e.value("dst", ""), e.value("proto", 0));
            if (e.contains("dport")) what += fmt::format(" ports {} -> {}", e.value("sport", 0), e.value("dport", 0));
        }
        return head + what + " (repeats from this source are held back for 10 s)";
    }
    if (type == "reload_rejected") return head + " " + e.value("error", "");
    if (type == "xdp_detached")
        return head + fmt::format(" {} is NOT protected: {}; {}", e.value("interface", ""), e.value("error", ""),
                                  e.value("remedy", ""));
    if (type == "xdp_attached") return head + fmt::format(" {} protected again ({})", e.value("interface", ""), e.value("mode", ""));
    if (type == "start")
        return head + fmt::format(" daemon pid {}; event log {} ({} earlier events restored)", e.value("pid", 0),
                                  e.value("event_log", ""), e.value("restored", 0));
    return head + " " + e.dump();
}

}  // namespace

int cmd_mitigation(const Common& c) {
    auto j = api::call(c.socket, {{"cmd", "mitigation"}});
    if (c.json) {
        std::cout << j.dump(2) << std::endl;
        return 0;
    }
    if (!j.value("enabled", false)) {
        std::cout << "automatic mitigation is off (no `mitigation` section in the config)\n";
        return 0;
    }
    std::cout << fmt::format("automatic mitigation: smoothing {} s, cooldown {} s, source sampling 1/{}{}\n",
                             j.value("smoothing_s", 0), j.value("cooldown_s", 0), j.value("sample", 0),
                             j.value("hook", "").empty() ? "" : ", hook " + j.value("hook", ""));
    std::cout << fmt::format("{:<12} {:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {}\n", "watch", "state", "pps",
                             "bit/s", "SYN/s", "UDP/s", "ICMP/s", "sources/s", "prefixes");
    for (const auto& w : j["watches"]) {
        const auto& r = w["rates"];
        const auto& t = w["thresholds"];
        auto cell = [&](const char* k) {
            return si(r.value(k, 0.0)) + (t.contains(k) ? "/" + si(t[k].get<double>()) : "");
        };
        std::cout << fmt::format("{:<12} {:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {}\n", w.value("name", ""),
                                 w.value("state", ""), cell("pps"), cell("bps"), cell("syn_pps"), cell("udp_pps"),
                                 cell("icmp_pps"), cell("sources"), join(w["prefixes"], " "));
        if (w.value("state", "") == "attack") {
            std::cout << fmt::format("  under attack since {}; actions: {}\n", local_time(w.value("since", 0.0)),
                                     join(w["actions_taken"]));
            for (const auto& s : w.value("top_sources", nlohmann::json::array()))
                std::cout << fmt::format("    {:<40} {:>9} pps\n", s.value("source", ""), si(s.value("pps", 0.0)));
        }
    }
    std::cout << "(smoothed rate/threshold per second; `xdpd events` shows what was decided)\n";
    return 0;
}

int cmd_events(const Common& c, const EventsOptions& o) {
    uint64_t after = 0;
    for (;;) {
        auto events = api::call(c.socket, {{"cmd", "events"}, {"after", after}});
        for (const auto& e : events) {
            std::cout << (c.json ? e.dump() : describe_event(e)) << std::endl;
            after = e.value("seq", after);
        }
        if (!o.follow) break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return 0;
}

}  // namespace xdpd::cli
