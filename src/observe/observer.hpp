// The daemon's side of the observe stage (bpf/observe.h): sets what the data
// plane samples and reports (xdpd_observe), ranks the sampled sources by rate
// every second, reads the data plane's events from their ring buffer into the
// event log (the same source sending the same thing is told once per
// kRepeatWindow, with a count), and ends a capture whose process is gone.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "config/config.hpp"
#include "mitigation/events.hpp"

struct ring_buffer;

namespace xdpd::observe {

struct SourceRate {
    std::string addr;  // "192.0.2.7", "2001:db8::1"
    double pps = 0, bps = 0, dropped_pps = 0;
};

class Observer {
public:
    static constexpr double kRepeatWindow = 10;  // seconds

    using PinnedFn = std::function<bpf::MapRef(const std::string&)>;
    using IfnameFn = std::function<std::string(__u32 ifindex)>;
    Observer(PinnedFn pinned, mitigation::EventLog& events, IfnameFn ifname);
    ~Observer();
    Observer(const Observer&) = delete;
    Observer& operator=(const Observer&) = delete;

    void configure(const config::ObserveConfig& cfg);
    // Every second: source rates, capture watchdog, old repeat entries.
    void tick(double now_mono);
    // The ring buffer's epoll fd: readable when events wait; consume() reads them.
    int event_fd() const;
    void consume();

    // The heaviest sources of the last tick, at most `n` (default: top_sources).
    std::vector<SourceRate> top(size_t n = 0) const;
    const config::ObserveConfig& config() const { return cfg_; }
    unsigned sample() const { return cfg_.source_sample; }

    // Data-plane event counters, summed over CPUs; and the capture's state.
    struct Counters {
        uint64_t events_sent = 0, events_dropped = 0, events_read = 0, events_coalesced = 0;
        uint64_t capture_seen = 0, capture_sent = 0, capture_lost = 0;
        bool capture_active = false;
        __u32 capture_owner = 0;
    };
    Counters counters() const;
    nlohmann::json status() const;

private:
    static int on_event(void* self, void* data, size_t size);
    void handle(const xdpd_dp_event& e);

    PinnedFn pinned_;
    mitigation::EventLog& events_;
    IfnameFn ifname_;
    config::ObserveConfig cfg_;
    bpf::MapRef observe_map_, top_map_, cpu_map_;
    std::unique_ptr<bpf::MappedArray> observe_;
    ring_buffer* ring_ = nullptr;
    uint64_t read_ = 0, coalesced_ = 0;

    struct Seen {
        double last = 0;     // CLOCK_MONOTONIC of the last event told
        uint64_t repeats = 0;
    };
    std::map<std::string, Seen> recent_;  // (reason, source) -> when last told

    std::map<std::array<__u8, 16>, xdpd_top_count> prev_counts_;
    double prev_time_ = 0;
    std::vector<SourceRate> top_;
};

// "192.0.2.7" for ::ffff:192.0.2.7, else the IPv6 text.
std::string addr_text(const __u8 (&addr)[16]);

}  // namespace xdpd::observe
