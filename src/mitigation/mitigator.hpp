// Automatic mitigation (docs/mitigation.md): every second, the watches'
// counters become rates, smoothed rates are checked against thresholds, and
// an attack is escalated (rate-limit profile, SYN cookies, source tracking,
// then bans of the heaviest sources) and de-escalated after its cooldown.
// Each decision is an event. The state in force lives in the data plane, so a
// restarted daemon picks up an attack where the last one left it.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "mitigation/detector.hpp"
#include "mitigation/events.hpp"
#include "mitigation/watch_maps.hpp"

namespace xdpd::mitigation {

// Bans a source for a duration with a reason (the shield's ban list).
using BanFn = std::function<void(const fw::Cidr&, std::chrono::seconds, const std::string&)>;

struct Clock {
    double mono = 0;  // seconds, CLOCK_MONOTONIC: rates, cooldowns
    double wall = 0;  // seconds since the epoch: what events and status show
    static Clock now();
};

class Mitigator {
public:
    Mitigator(WatchMaps maps, BanFn ban, EventLog& events);

    // Applies a (new) config. Watches that keep their name and prefixes keep
    // their state, an attack included; the others start afresh (an attack on
    // one that changed ends with reason "reconfigured").
    void configure(const config::MitigationConfig& cfg, const Clock& now = Clock::now());
    void tick(const Clock& now = Clock::now());
    nlohmann::json status() const;

private:
    struct Watch {
        config::WatchConfig conf;
        config::Thresholds thresholds;
        config::MitigationActions actions;
        std::unique_ptr<Detector> detector;
        bool have_prev = false;
        xdpd_watch_stats prev{};
        double prev_t = 0;
        Rates last;                                  // measured over the last interval
        double since_wall = 0;                       // attack start, epoch seconds
        std::vector<std::string> actions_taken;      // during the current attack
        std::set<std::string> banned;                // by this attack
        std::map<std::string, __u64> prev_sources;   // sampled packets at the last tick
        nlohmann::json top_sources = nlohmann::json::array();  // heaviest, last tick
        nlohmann::json peak_top = nlohmann::json::array();     // heaviest seen in the attack
        double peak_top_pps = 0;
    };

    void start(size_t i, const Clock& now);
    void end(size_t i, const Clock& now, const std::string& why);
    void track_sources(size_t i, double dt);
    void write_state(size_t i, bool attack);
    void update_tracking();
    nlohmann::json watch_json(const Watch& w) const;

    WatchMaps maps_;
    BanFn ban_;
    EventLog& events_;
    HookRunner hooks_;
    config::MitigationConfig cfg_;
    std::vector<Watch> watches_;
};

nlohmann::json rates_json(const Rates& r);

}  // namespace xdpd::mitigation
