// Health checks for the load balancer's backends (control plane only).
//
// A HealthChecker probes a set of targets (tcp connect, an HTTP GET, a UDP
// request/reply) from one background thread: non-blocking sockets and poll(),
// no thread per target, no blocking connect. Each target is probed every
// `interval`, each probe bounded by `timeout`; first probes of new targets are
// spread over one interval.
//
// State machine per target: UP --`fall` consecutive failures--> DOWN
// --`rise` consecutive successes--> UP. Targets start UP (a start or reload
// loses no traffic); type none is always UP and never probed. Every transition
// is logged (info for up, warn for down) and queued as a HealthChange; the
// daemon drains the queue from its own loop (event_fd() is readable while it
// is not empty) and applies the changes to the data plane.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/fd.hpp"

namespace xdpd::lb {

struct HealthCheckSpec {
    enum class Type { none, tcp, http, udp } type = Type::none;
    std::chrono::milliseconds interval{2000}, timeout{1000};
    unsigned rise = 2, fall = 3;              // consecutive successes to come up / failures to go down
    uint16_t port = 0;                        // 0: the target's own port
    std::string http_path = "/";              // http: GET this
    int http_status = 200;                    // http: expected status code
    std::string http_host;                    // http: Host header (default: the address, and :port unless 80)
    std::string udp_payload = "xdpd-health";  // udp: datagram sent
    std::string udp_expect;                   // udp: reply must contain this (empty: any reply)
    bool operator==(const HealthCheckSpec&) const = default;
};

// "none", "tcp", "http", "udp".
const char* to_string(HealthCheckSpec::Type t);

struct HealthTarget {
    std::string key;   // unique, e.g. "web/10.78.0.11:8080"
    std::string addr;  // numeric IPv4 or IPv6 address
    uint16_t port = 0;
    HealthCheckSpec spec;
    bool operator==(const HealthTarget&) const = default;
};

struct HealthChange {
    std::string key;
    bool up;
    std::string why;  // "3 consecutive failures: connect: Connection refused"
};

class HealthChecker {
public:
    // netns non-empty: the probe thread setns()es into that named namespace
    // (tests); throws SysError if it cannot. Starts the thread.
    explicit HealthChecker(std::string netns = {});
    // Stops and joins the thread; probes in flight are abandoned.
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    // Replaces the set of targets. A target equal to a current one (key, addr,
    // port and spec) keeps its state and counters. Others start UP with fresh
    // counters; a target that was DOWN and is reset this way queues an UP
    // change ("health check changed"). Removed targets are forgotten. Queued
    // changes of reset or removed targets are dropped (they describe a state
    // that no longer exists). Throws std::invalid_argument (and changes
    // nothing) for a duplicate key, a non-numeric address, or a probed type
    // with interval/timeout <= 0, rise/fall 0, or no port.
    void set_targets(std::vector<HealthTarget> targets);

    // The changes since the last call, oldest first.
    std::vector<HealthChange> drain();
    // An eventfd, readable while changes are queued; drain() resets it.
    int event_fd() const { return event_fd_.get(); }

    // Unknown keys are not up.
    bool is_up(const std::string& key) const;

    // An array, by key: key, addr, port, check_port, type, state ("up"/"down"),
    // consecutive_ok, consecutive_fail, checks, failures, last_error (of the
    // last failed probe, "" if none), last_latency_ms (of the last probe, null
    // before the first), since (unix seconds of the last change, or of when
    // the target was added).
    nlohmann::json status() const;

    struct Target;  // internal

private:
    void run();
    void start_probe(Target& t, std::chrono::steady_clock::time_point now);
    void advance(Target& t, short revents, std::chrono::steady_clock::time_point now);
    void finish(Target& t, bool ok, std::string detail, std::chrono::steady_clock::time_point now);
    void queue_change(Target& t, bool up, std::string why);
    void wake();

    std::string netns_;
    UniqueFd event_fd_;  // changes queued
    UniqueFd wake_fd_;   // set_targets / stop for the thread
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<Target>> targets_;
    std::deque<HealthChange> changes_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace xdpd::lb
