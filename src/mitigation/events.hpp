// The mitigation's decisions as structured events: kept in a bounded log (API
// `events`, `xdpd events`), written to the daemon's log as one JSON line each,
// and handed to an optional hook command on attack start and end.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace xdpd::mitigation {

inline constexpr size_t kMaxEvents = 1000;

class EventLog {
public:
    // Appends {seq, time, type, watch, ...detail} and logs it; returns it.
    const nlohmann::json& add(const std::string& type, const std::string& watch, nlohmann::json detail);
    // Events with seq > after, oldest first.
    nlohmann::json since(uint64_t after = 0) const;
    uint64_t last_seq() const { return seq_; }
    // Events added since start, by (type, watch) (metrics).
    const std::map<std::pair<std::string, std::string>, uint64_t>& counts() const { return counts_; }

private:
    std::deque<nlohmann::json> events_;
    std::map<std::pair<std::string, std::string>, uint64_t> counts_;
    uint64_t seq_ = 0;
};

// Runs `/bin/sh -c COMMAND xdpd-hook EVENT WATCH` in the background with the
// event in its environment (XDPD_EVENT, XDPD_WATCH, XDPD_PREFIXES,
// XDPD_EVENT_JSON), and reports how each run ended. A run still going after
// kTimeout is killed.
class HookRunner {
public:
    static constexpr double kTimeout = 60;  // seconds

    ~HookRunner();
    // now: CLOCK_MONOTONIC seconds, for the timeout.
    void run(const std::string& command, const nlohmann::json& event, double now);
    void reap(double now);  // call every second
    size_t running() const { return children_.size(); }

private:
    struct Child {
        std::string what;
        double started;
    };
    std::map<pid_t, Child> children_;
};

}  // namespace xdpd::mitigation
