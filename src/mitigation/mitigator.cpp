#include "mitigation/mitigator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace xdpd::mitigation {
namespace {

constexpr unsigned kDefaultBanTop = 10;
constexpr std::chrono::seconds kDefaultBanFor{600};
constexpr size_t kTopShown = 10;

nlohmann::json prefixes_json(const config::WatchConfig& w) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : w.prefixes) out.push_back(p.str());
    if (w.prefixes.empty()) out.push_back("*");  // the default watch: every other destination
    return out;
}

nlohmann::json thresholds_json(const config::Thresholds& t) {
    nlohmann::json j = nlohmann::json::object();
    for (auto [k, v] : {std::pair{"pps", &t.pps}, {"bps", &t.bps}, {"syn_pps", &t.syn_pps},
                        {"udp_pps", &t.udp_pps}, {"icmp_pps", &t.icmp_pps}, {"sources", &t.sources}})
        if (*v) j[k] = **v;
    return j;
}

nlohmann::json actions_json(const config::MitigationActions& a) {
    nlohmann::json j = nlohmann::json::object();
    if (a.limit) j["limit"] = *a.limit;
    j["syncookies"] = a.syncookies.value_or(false);
    if (a.ban_over_pps)
        j["ban"] = {{"top", a.ban_top.value_or(kDefaultBanTop)}, {"over_pps", *a.ban_over_pps},
                    {"duration_s", a.ban_for.value_or(kDefaultBanFor).count()}};
    return j;
}

bool same_watch(const config::WatchConfig& a, const config::WatchConfig& b) {
    if (a.name != b.name || a.prefixes.size() != b.prefixes.size()) return false;
    for (size_t i = 0; i < a.prefixes.size(); ++i)
        if (a.prefixes[i].str() != b.prefixes[i].str()) return false;
    return true;
}

__u64 delta(__u64 now, __u64 before) { return now >= before ? now - before : 0; }

}  // namespace

Clock Clock::now() {
    timespec m{}, w{};
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &w);
    return {double(m.tv_sec) + double(m.tv_nsec) / 1e9, double(w.tv_sec) + double(w.tv_nsec) / 1e9};
}

nlohmann::json rates_json(const Rates& r) {
    return {{"pps", r.pps}, {"bps", r.bps}, {"syn_pps", r.syn_pps}, {"udp_pps", r.udp_pps},
            {"icmp_pps", r.icmp_pps}, {"sources", r.sources}};
}

Mitigator::Mitigator(WatchMaps maps, BanFn ban, EventLog& events)
    : maps_(std::move(maps)), ban_(std::move(ban)), events_(events) {}

void Mitigator::configure(const config::MitigationConfig& cfg, const Clock& now) {
    std::vector<Watch> next;
    std::vector<bool> carried;
    for (size_t i = 0; cfg.enabled && i < cfg.watches.size(); ++i) {
        const bool keep = i < watches_.size() && same_watch(watches_[i].conf, cfg.watches[i]) &&
                          cfg.smoothing == cfg_.smoothing && cfg.cooldown == cfg_.cooldown;
        // A kept watch keeps its detector, counters and attack; a new one starts afresh.
        Watch w = keep ? std::move(watches_[i]) : Watch{};
        w.conf = cfg.watches[i];
        w.thresholds = cfg.thresholds_of(i);
        w.actions = cfg.actions_of(i);
        if (keep)
            w.detector->set_thresholds(w.thresholds);
        else
            w.detector = std::make_unique<Detector>(w.thresholds, cfg.smoothing, cfg.cooldown);
        carried.push_back(keep);
        next.push_back(std::move(w));
    }
    // Attacks on watches that change or go end now, with their old actions.
    for (size_t i = 0; i < watches_.size(); ++i)
        if (watches_[i].detector && watches_[i].detector->active() && (i >= carried.size() || !carried[i]))
            end(i, now, "reconfigured");

    const bool first = watches_.empty();
    watches_ = std::move(next);
    cfg_ = cfg;
    maps_.install_prefixes(cfg.enabled ? cfg.watches : std::vector<config::WatchConfig>{});
    for (size_t i = 0; i < XDPD_MAX_WATCHES; ++i) {
        if (i >= watches_.size()) {
            maps_.set_state(__u32(i), xdpd_watch{});
            continue;
        }
        Watch& w = watches_[i];
        const xdpd_watch in_force = maps_.state(__u32(i));
        if (!carried[i] && first && (in_force.flags & XDPD_WATCH_F_ATTACK)) {
            // A previous daemon left this attack in force: carry on from there.
            w.detector->adopt(now.mono);
            w.since_wall = double(in_force.since);
            w.actions_taken.push_back("in force when this daemon started");
            events_.add("attack_adopted", w.conf.name,
                        {{"prefixes", prefixes_json(w.conf)}, {"since", w.since_wall},
                         {"actions", actions_json(w.actions)}});
        }
        write_state(i, w.detector->active());
    }
    update_tracking();
}

void Mitigator::write_state(size_t i, bool attack) {
    const Watch& w = watches_[i];
    xdpd_watch s{};
    if (attack) {
        s.flags = XDPD_WATCH_F_ATTACK;
        if (w.actions.limit_index) s.limit = *w.actions.limit_index + 1;
        if (w.actions.syncookies.value_or(false)) s.flags |= XDPD_WATCH_F_SYNCOOKIE;
        s.since = __u64(w.since_wall);
    }
    maps_.set_state(__u32(i), s);
}

void Mitigator::update_tracking() {
    const bool any = std::any_of(watches_.begin(), watches_.end(),
                                 [](const Watch& w) { return w.detector->active(); });
    const unsigned want = any ? cfg_.sample : 0;
    if (maps_.tracking() == want) return;
    maps_.set_tracking(want);
    if (!want) maps_.clear_sources();
}

void Mitigator::tick(const Clock& now) {
    hooks_.reap(now.mono);
    for (size_t i = 0; i < watches_.size(); ++i) {
        Watch& w = watches_[i];
        const xdpd_watch_stats c = maps_.counters(__u32(i));
        const HllRegisters hll = maps_.take_hll(__u32(i));
        if (!w.have_prev) {
            w.prev = c;
            w.prev_t = now.mono;
            w.have_prev = true;
            continue;
        }
        const double dt = now.mono - w.prev_t;
        if (dt < 0.1) continue;
        __u64 pk = 0, by = 0;
        for (int p = 0; p < XDPD_WP_MAX; ++p) {
            pk += delta(c.proto[p].packets, w.prev.proto[p].packets);
            by += delta(c.proto[p].bytes, w.prev.proto[p].bytes);
        }
        Rates r;
        r.pps = double(pk) / dt;
        r.bps = double(by) * 8 / dt;
        r.syn_pps = double(delta(c.syn, w.prev.syn)) / dt;
        r.udp_pps = double(delta(c.proto[XDPD_WP_UDP].packets, w.prev.proto[XDPD_WP_UDP].packets)) / dt;
        r.icmp_pps = double(delta(c.proto[XDPD_WP_ICMP].packets, w.prev.proto[XDPD_WP_ICMP].packets)) / dt;
        r.sources = pk ? hll_estimate(hll) / dt : 0;
        w.prev = c;
        w.prev_t = now.mono;
        w.last = r;
        switch (w.detector->update(r, dt, now.mono)) {
        case Detector::Change::started: start(i, now); break;
        case Detector::Change::ended: end(i, now, "rates below every threshold for the cooldown"); break;
        case Detector::Change::none: break;
        }
        if (w.detector->active() && maps_.tracking()) track_sources(i, dt);
    }
    update_tracking();
}

void Mitigator::start(size_t i, const Clock& now) {
    Watch& w = watches_[i];
    w.since_wall = now.wall;
    w.actions_taken.clear();
    w.banned.clear();
    w.prev_sources.clear();
    w.top_sources = w.peak_top = nlohmann::json::array();
    w.peak_top_pps = 0;
    write_state(i, true);
    if (w.actions.limit) w.actions_taken.push_back("limit " + *w.actions.limit);
    if (w.actions.syncookies.value_or(false)) w.actions_taken.push_back("syncookies on");
    w.actions_taken.push_back(fmt::format("tracking sources (1 packet in {})", cfg_.sample));
    nlohmann::json trigger = nlohmann::json::array();
    for (const auto& c : w.detector->crossings()) trigger.push_back(c.str());
    const auto& e = events_.add("attack_start", w.conf.name,
                                {{"prefixes", prefixes_json(w.conf)}, {"trigger", trigger},
                                 {"rates", rates_json(w.detector->smoothed())}, {"measured", rates_json(w.last)},
                                 {"thresholds", thresholds_json(w.thresholds)}, {"actions", w.actions_taken}});
    if (!cfg_.hook.empty()) hooks_.run(cfg_.hook, e, now.mono);
}

void Mitigator::end(size_t i, const Clock& now, const std::string& why) {
    Watch& w = watches_[i];
    write_state(i, false);
    const auto& e = events_.add("attack_end", w.conf.name,
                                {{"prefixes", prefixes_json(w.conf)}, {"reason", why},
                                 {"started", w.since_wall}, {"duration_s", now.wall - w.since_wall},
                                 {"peak", rates_json(w.detector->peak())}, {"top_sources", w.peak_top},
                                 {"actions", w.actions_taken}, {"bans", w.banned.size()}});
    if (!cfg_.hook.empty()) hooks_.run(cfg_.hook, e, now.mono);
    w.prev_sources.clear();
    w.top_sources = nlohmann::json::array();
}

void Mitigator::track_sources(size_t i, double dt) {
    Watch& w = watches_[i];
    struct Rated {
        fw::Cidr src;
        std::string key;
        double pps;
    };
    std::vector<Rated> rated;
    std::map<std::string, __u64> seen;
    for (const auto& s : maps_.sources(__u32(i))) {
        std::string key = s.source.str();
        auto it = w.prev_sources.find(key);
        const __u64 before = it == w.prev_sources.end() ? 0 : it->second;
        rated.push_back({s.source, key, double(delta(s.packets, before)) * cfg_.sample / dt});
        seen[key] = s.packets;
    }
    w.prev_sources = std::move(seen);
    std::sort(rated.begin(), rated.end(), [](const Rated& a, const Rated& b) { return a.pps > b.pps; });
    w.top_sources = nlohmann::json::array();
    for (size_t k = 0; k < rated.size() && k < kTopShown; ++k)
        w.top_sources.push_back({{"source", rated[k].key}, {"pps", rated[k].pps}});
    if (!rated.empty() && rated[0].pps > w.peak_top_pps) {
        w.peak_top_pps = rated[0].pps;
        w.peak_top = w.top_sources;
    }

    if (!w.actions.ban_over_pps) return;
    const unsigned top = w.actions.ban_top.value_or(kDefaultBanTop);
    const auto duration = w.actions.ban_for.value_or(kDefaultBanFor);
    unsigned n = 0;
    for (const auto& r : rated) {
        if (n >= top || r.pps <= *w.actions.ban_over_pps) break;
        ++n;
        if (w.banned.count(r.key)) continue;
        std::string reason = fmt::format("auto {} {:.0f}pps", w.conf.name, r.pps);
        reason.resize(std::min(reason.size(), sizeof(xdpd_ban::reason) - 1));
        try {
            ban_(r.src, duration, reason);
        } catch (const std::exception& ex) {
            spdlog::error("mitigation: could not ban {}: {}", r.key, ex.what());
            continue;
        }
        w.banned.insert(r.key);
        w.actions_taken.push_back(fmt::format("banned {} ({:.0f} pps) for {} s", r.key, r.pps, duration.count()));
        events_.add("ban", w.conf.name, {{"source", r.key}, {"pps", r.pps}, {"duration_s", duration.count()},
                                         {"over_pps", *w.actions.ban_over_pps}});
    }
}

nlohmann::json Mitigator::watch_json(const Watch& w) const {
    const size_t i = size_t(&w - watches_.data());
    const xdpd_watch st = maps_.state(__u32(i));
    const bool active = w.detector->active();
    nlohmann::json j = {{"index", i}, {"name", w.conf.name}, {"prefixes", prefixes_json(w.conf)},
                        {"state", active ? "attack" : "normal"}, {"rates", rates_json(w.detector->smoothed())},
                        {"measured", rates_json(w.last)}, {"thresholds", thresholds_json(w.thresholds)},
                        {"actions", actions_json(w.actions)}};
    nlohmann::json in_force = {{"syncookies", bool(st.flags & XDPD_WATCH_F_SYNCOOKIE)}};
    in_force["limit"] = nullptr;
    if (st.limit)
        in_force["limit"] = w.actions.limit_index && *w.actions.limit_index + 1 == st.limit
                                ? *w.actions.limit
                                : fmt::format("profile #{}", st.limit - 1);
    j["in_force"] = in_force;
    if (active) {
        j["since"] = w.since_wall;
        j["peak"] = rates_json(w.detector->peak());
        j["top_sources"] = w.top_sources;
        j["actions_taken"] = w.actions_taken;
        j["bans"] = w.banned.size();
    }
    return j;
}

nlohmann::json Mitigator::status() const {
    nlohmann::json j = {{"enabled", cfg_.enabled}, {"smoothing_s", cfg_.smoothing.count()},
                        {"cooldown_s", cfg_.cooldown.count()}, {"sample", cfg_.sample},
                        {"hook", cfg_.hook}, {"tracking", maps_.tracking()},
                        {"watches", nlohmann::json::array()}, {"last_event", events_.last_seq()}};
    for (const auto& w : watches_) j["watches"].push_back(watch_json(w));
    return j;
}

}  // namespace xdpd::mitigation
