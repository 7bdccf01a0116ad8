// The daemon's events (attacks, bans, reloads, data-plane packet events, ...)
// as structured records: kept in a bounded log (API `events`, `xdpd events`),
// optionally persisted to a JSON-lines file so a restart or upgrade keeps them,
// written to the daemon's log as one JSON line each, and handed to an optional
// hook command on attack start and end.
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
    EventLog() = default;
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;
    ~EventLog();

    // Keeps the log in `path` from now on (JSON lines, appended as events come,
    // rewritten to the last kMaxEvents when it holds twice that). Events already
    // in the file are restored first and numbering continues after them; lines
    // that do not parse (a crash mid-write) are skipped. Returns how many were
    // restored. Throws SysError when the file cannot be opened.
    size_t persist(const std::string& path);

    // Appends {seq, time, type, watch, ...detail} and logs it; returns it.
    const nlohmann::json& add(const std::string& type, const std::string& watch, nlohmann::json detail);
    // Events with seq > after, oldest first.
    nlohmann::json since(uint64_t after = 0) const;
    uint64_t last_seq() const { return seq_; }
    // Events added since start, by (type, watch) (metrics).
    const std::map<std::pair<std::string, std::string>, uint64_t>& counts() const { return counts_; }

private:
    void write(const nlohmann::json& e);
    void compact();

    std::string path_;
    int fd_ = -1;            // the file, O_APPEND; -1: memory only
    size_t file_lines_ = 0;  // events in the file
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
