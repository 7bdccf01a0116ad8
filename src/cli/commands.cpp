#include "cli/commands.hpp"

#include <fmt/format.h>
#include <net/if.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <thread>

#include "api/socket.hpp"
#include "config/config.hpp"
#include "daemon/dataplane.hpp"
#include "fw/compiler.hpp"
#include "stats/snapshot.hpp"

namespace xdpd::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

// Asks the daemon; when none runs, falls back to the pinned data plane (read-only).
nlohmann::json daemon_or_pins(const Common& c, const std::string& cmd, bool* from_daemon) {
    if (api::reachable(c.socket)) {
        *from_daemon = true;
        return api::call(c.socket, {{"cmd", cmd}});
    }
    *from_daemon = false;
    daemon::DataPlane dp(c.bpffs);
    if (!dp.exists())
        throw std::runtime_error(fmt::format(
            "xdpd is not running (no daemon on {}) and no data plane is pinned at {}", c.socket, c.bpffs));
    return cmd == "status" ? dp.status() : dp.stats();
}

stats::Snapshot filter(stats::Snapshot s, const std::string& iface) {
    if (iface.empty()) return s;
    std::erase_if(s.ifaces, [&](const auto& i) { return i.name != iface; });
    if (s.ifaces.empty()) throw std::runtime_error("interface " + iface + " is not attached");
    return s;
}

}  // namespace

int cmd_check(const Common& c, const std::string& path) {
    config::Config cfg;
    try {
        cfg = config::load_file(path);
    } catch (const config::ConfigError& e) {
        if (c.json) {
            nlohmann::json errs = nlohmann::json::array();
            for (const auto& d : e.diagnostics)
                errs.push_back({{"file", d.file}, {"line", d.line}, {"column", d.column},
                                {"message", d.message}, {"severity", d.warning ? "warning" : "error"}});
            print_json({{"ok", false}, {"diagnostics", errs}});
        } else {
            std::cerr << e.what() << "\n";
        }
        return 1;
    }
    std::vector<std::string> warnings;
    for (const auto& w : cfg.warnings) warnings.push_back(w.str());
    for (const auto& i : cfg.interfaces)
        if (!if_nametoindex(i.name.c_str()))
            warnings.push_back(fmt::format("{}: warning: interface {} does not exist here (yet)", i.origin, i.name));
    fw::CompiledRuleSet compiled;
    fw::RuleSet rs = cfg.rules;
    for (auto& r : rs.rules)  // any ifindex will do for checking shapes
        if (r.match.iface) r.match.ifindex = 1;
    try {
        compiled = fw::compile(rs);
    } catch (const fw::CompileError& e) {
        if (c.json)
            print_json({{"ok", false}, {"diagnostics", {{{"message", e.what()}, {"severity", "error"}}}}});
        else
            std::cerr << path << ": error: " << e.what() << "\n";
        return 1;
    }
    for (const auto& w : compiled.warnings) warnings.push_back("warning: " + w);
    size_t backends = 0;
    for (const auto& s : cfg.lb.services) backends += s.backends.size();
    if (c.json) {
        print_json({{"ok", true}, {"interfaces", cfg.interfaces.size()}, {"rules", cfg.rules.rules.size()},
                    {"tuples", compiled.tuples.size()}, {"entries", compiled.entries.size()},
                    {"lb_services", cfg.lb.services.size()}, {"lb_backends", backends},
                    {"warnings", warnings}});
    } else {
        for (const auto& w : warnings) std::cerr << w << "\n";
        std::cout << fmt::format("{}: OK: {} interface(s), {} rule(s) in {} match shape(s), {} classifier entries{}\n",
                                 path, cfg.interfaces.size(), cfg.rules.rules.size(),
                                 compiled.tuples.size(), compiled.entries.size(),
                                 cfg.lb.services.empty() ? std::string()
                                                         : fmt::format(", {} lb service(s) with {} backend(s)",
                                                                       cfg.lb.services.size(), backends));
    }
    return 0;
}

int cmd_status(const Common& c) {
    bool live = false;
    auto j = daemon_or_pins(c, "status", &live);
    j["daemon"] = live;
    if (c.json) {
        print_json(j);
        return 0;
    }
    if (live)
        std::cout << fmt::format("xdpd running: pid {}, config {}, up {:.0f} s, {} reload(s)\n",
                                 j.value("pid", 0), j.value("config", "?"), j.value("uptime_s", 0.0),
                                 j.value("reloads", 0));
    else
        std::cout << "xdpd daemon not running; the data plane pinned at " << c.bpffs << " is:\n";
    std::cout << fmt::format("{:<16} {:>8} {:>7} {:>8} {:>8} {:>6}\n", "interface", "ifindex", "mode",
                             "prog", "link", "slot");
    for (const auto& i : j["interfaces"])
        std::cout << fmt::format("{:<16} {:>8} {:>7} {:>8} {:>8} {:>6}\n", i.value("name", ""),
                                 i.value("ifindex", 0), i.value("mode", "?"), i.value("prog_id", 0),
                                 i.value("link_id", 0), i.value("slot", 0));
    if (j.contains("firewall")) {
        const auto& f = j["firewall"];
        std::cout << fmt::format("firewall: {} rules, {} match shapes, {} entries, default {}, monitor {}, generation {}\n",
                                 f.value("rules", 0), f.value("tuples", 0), f.value("entries", 0),
                                 f.value("default", "?"), f.value("monitor", false) ? "on" : "off",
                                 f.value("generation", 0));
    }
    if (j.contains("shield")) {
        const auto& sh = j["shield"];
        std::cout << fmt::format("shield: {} bans, {} allow-listed\n", sh.value("bans", 0), sh.value("allow", 0));
    }
    if (j.contains("limiter")) {
        const auto& l = j["limiter"];
        const auto& d = l["dropped"];
        std::string profiles;
        for (const auto& p : l.value("profiles", nlohmann::json::array()))
            profiles += (profiles.empty() ? "" : ", ") + p.get<std::string>();
        std::cout << fmt::format("rate limits: profiles [{}]; {} of {} buckets in use; dropped {} per source, "
                                 "{} per prefix, {} per destination\n",
                                 profiles, l.value("buckets", 0), l.value("buckets_max", 0),
                                 d.value("per_source", 0ull), d.value("per_prefix", 0ull),
                                 d.value("per_destination", 0ull));
    }
    if (j.contains("syncookies")) {
        const auto& sc = j["syncookies"];
        std::string ports;
        for (const auto& p : sc.value("ports", nlohmann::json::array())) ports += (ports.empty() ? "" : ",") + p.dump();
        std::cout << fmt::format("syn cookies: {}; sent {}, validated {}, failed {}\n",
                                 sc.value("enabled", false) ? fmt::format("ports {} ({})", ports, sc.value("mode", ""))
                                                            : std::string("off"),
                                 sc.value("sent", 0ull), sc.value("validated", 0ull), sc.value("failed", 0ull));
    }
    if (j.contains("mitigation")) {
        const auto& m = j["mitigation"];
        std::string attacks;
        for (const auto& a : m["under_attack"]) attacks += (attacks.empty() ? "" : ", ") + a.get<std::string>();
        if (m.value("enabled", false))
            std::cout << fmt::format("mitigation: {} watches, {}\n", m.value("watches", 0),
                                     attacks.empty() ? "no attack" : "UNDER ATTACK: " + attacks);
        else
            std::cout << "mitigation: off\n";
    }
    if (j.contains("lb")) {
        const auto& l = j["lb"];
        if (l.value("enabled", false))
            std::cout << fmt::format("load balancer: {} services, {} backends ({} up, {} down, {} drained); "
                                     "{} of {} flows in the table; forwarded {}, replies {}, no backend {}, "
                                     "no route {} (`xdpd lb` for details)\n",
                                     l.value("services", 0), l.value("backends", 0), l.value("up", 0),
                                     l.value("down", 0), l.value("drained", 0), l.value("flows", 0),
                                     l.value("flows_max", 0), l.value("forwarded", 0ull), l.value("replies", 0ull),
                                     l.value("no_backend", 0ull), l.value("no_route", 0ull));
        else
            std::cout << "load balancer: off\n";
    }
    std::cout << fmt::format("maps ({:.1f} MiB locked, {:.1f} MiB estimated in use):\n",
                             j.value("memlock_bytes", 0.0) / 1048576.0,
                             j.value("memory_estimate_bytes", 0.0) / 1048576.0);
    std::cout << fmt::format("  {:<20} {:>6} {:>10} {:>10} {:>6} {:>11} {:>11}\n", "name", "id", "entries", "max",
                             "value", "memlock", "estimate");
    for (const auto& m : j["maps"])
        std::cout << fmt::format("  {:<20} {:>6} {:>10} {:>10} {:>5}B {:>10.1f}K {:>10}\n", m.value("name", ""),
                                 m.value("id", 0), m.contains("entries") ? m["entries"].dump() : std::string("-"),
                                 m.value("max_entries", 0), m.value("value_size", 0),
                                 m.value("memlock_bytes", 0.0) / 1024.0,
                                 m.contains("memory_estimate_bytes")
                                     ? fmt::format("{:.1f}K", m["memory_estimate_bytes"].get<double>() / 1024.0)
                                     : std::string("-"));
    return 0;
}

int cmd_stats(const Common& c, const StatsOptions& o) {
    bool live = false;
    auto snap = [&] { return filter(stats::from_json(daemon_or_pins(c, "stats", &live)), o.iface); };
    stats::Snapshot prev = snap();
    if (o.interval <= 0) {
        if (c.json)
            print_json(stats::to_json(prev));
        else
            std::cout << stats::format_table(prev, nullptr);
        return 0;
    }
    std::signal(SIGINT, [](int) { g_interrupted = 1; });
    for (int n = 0; !g_interrupted && (o.count == 0 || n < o.count); ++n) {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
        if (g_interrupted) break;
        stats::Snapshot cur = snap();
        if (c.json) {
            nlohmann::json j = stats::to_json(cur);
            j["rates"] = stats::rates_json(prev, cur);
            std::cout << j.dump() << std::endl;
        } else {
            std::cout << stats::format_table(cur, &prev) << std::endl;
        }
        prev = std::move(cur);
    }
    return 0;
}

int cmd_rules(const Common& c) {
    auto j = api::call(c.socket, {{"cmd", "rules"}});
    if (c.json) {
        print_json(j);
        return 0;
    }
    std::cout << fmt::format("{:>4} {:<20} {:>12} {:>14}  {}\n", "#", "id", "packets", "bytes", "rule");
    int n = 0;
    for (const auto& r : j)
        std::cout << fmt::format("{:>4} {:<20} {:>12} {:>14}  {}\n", n++, r.value("id", ""),
                                 r.value("packets", 0ull), r.value("bytes", 0ull), r.value("rule", ""));
    return 0;
}

int cmd_reload(const Common& c) {
    auto j = api::call(c.socket, {{"cmd", "reload"}});
    if (c.json) {
        print_json(j);
        return 0;
    }
    for (const auto& n : j["notes"]) std::cout << n.get<std::string>() << "\n";
    for (const auto& w : j["warnings"]) std::cerr << "warning: " << w.get<std::string>() << "\n";
    std::cout << fmt::format("reloaded: {} rules in {} match shapes, {} entries (generation {})\n",
                             j.value("rules", 0), j.value("tuples", 0), j.value("entries", 0),
                             j.value("generation", 0));
    return 0;
}

int cmd_monitor(const Common& c, const std::string& state) {
    if (state != "on" && state != "off") throw std::runtime_error("monitor takes 'on' or 'off'");
    auto j = api::call(c.socket, {{"cmd", "monitor"}, {"on", state == "on"}});
    if (c.json)
        print_json(j);
    else
        std::cout << "monitor mode " << state << "\n";
    return 0;
}

int cmd_detach(const Common& c) {
    if (api::reachable(c.socket)) {
        api::call(c.socket, {{"cmd", "detach"}});
        std::cout << "xdpd daemon is removing the data plane and exiting\n";
        return 0;
    }
    daemon::DataPlane dp(c.bpffs);
    auto notes = dp.detach_all();
    for (const auto& n : notes) std::cout << n << "\n";
    if (notes.empty()) std::cout << "nothing pinned at " << c.bpffs << "\n";
    return 0;
}

namespace {

std::string human_seconds(double s) {
    if (s < 120) return fmt::format("{:.0f}s", s);
    if (s < 7200) return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
    if (s < 172800) return fmt::format("{:.0f}h{:02.0f}m", std::floor(s / 3600), std::fmod(s, 3600) / 60);
    return fmt::format("{:.1f}d", s / 86400);
}

}  // namespace

int cmd_ban(const Common& c, const ListOptions& o) {
    nlohmann::json req = {{"cmd", "ban"}, {"op", o.op}};
    if (o.op != "list") req["prefix"] = o.prefix;
    if (o.op == "add") {
        if (!o.duration.empty()) {
            auto d = config::parse_duration(o.duration);
            if (!d) throw std::runtime_error("--for '" + o.duration + "' is not a duration (e.g. 90s, 10m, 1h30m, 2d)");
            req["duration_s"] = d->count();
        }
        req["reason"] = o.reason;
    }
    auto j = api::call(c.socket, req);
    if (c.json) {
        print_json(j);
        return 0;
    }
    if (o.op != "list") {
        std::cout << (o.op == "add" ? "banned " : "unbanned ") << o.prefix << "\n";
        return 0;
    }
    std::cout << fmt::format("{:<44} {:>12} {:>10} {:<7} {}\n", "prefix", "remaining", "hits", "origin", "reason");
    for (const auto& b : j)
        std::cout << fmt::format("{:<44} {:>12} {:>10} {:<7} {}\n", b.value("prefix", ""),
                                 b["remaining_s"].is_null() ? "forever" : human_seconds(b["remaining_s"].get<double>()),
                                 b.value("hits", 0ull), b.value("origin", ""), b.value("reason", ""));
    if (j.empty()) std::cout << "(no bans)\n";
    return 0;
}

int cmd_allow(const Common& c, const ListOptions& o) {
    nlohmann::json req = {{"cmd", "allow"}, {"op", o.op}};
    if (o.op != "list") req["prefix"] = o.prefix;
    auto j = api::call(c.socket, req);
    if (c.json) {
        print_json(j);
        return 0;
    }
    if (o.op != "list") {
        std::cout << (o.op == "add" ? "allow-listed " : "removed from the allow list: ") << o.prefix << "\n";
        return 0;
    }
    std::cout << fmt::format("{:<44} {:>10} {}\n", "prefix", "hits", "origin");
    for (const auto& a : j)
        std::cout << fmt::format("{:<44} {:>10} {}\n", a.value("prefix", ""), a.value("hits", 0ull), a.value("origin", ""));
    if (j.empty()) std::cout << "(allow list empty)\n";
    return 0;
}

}  // namespace xdpd::cli
