// Counters of the AF_XDP apps, per queue: what the worker thread counted
// (atomics, one writer) and the socket's XDP_STATISTICS. Reporter prints a
// line (or JSON object) per second and the summary at the end.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xsk/socket.hpp"

namespace xdpd::xskapp {

// Written by one queue's worker, read by the reporting thread.
struct QueueCounters {
    std::atomic<uint64_t> rx_packets{0}, rx_bytes{0};
    std::atomic<uint64_t> tx_packets{0}, tx_bytes{0};
    std::atomic<uint64_t> not_for_me{0};      // echo: not UDP to --port (dropped)
    std::atomic<uint64_t> tx_ring_full{0};    // to send, but no TX entry free (dropped)
    std::atomic<uint64_t> rx_empty_polls{0};  // loops that found the RX ring empty
    std::atomic<uint64_t> fill_fail{0};       // refills that found no free frame or fill entry
    std::atomic<uint64_t> tx_kicks{0};        // sendto() wakeups of TX

    static void add(std::atomic<uint64_t>& c, uint64_t n) {  // single writer: no RMW needed
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

// One queue's counters at one moment (cumulative).
struct QueueSample {
    uint32_t queue = 0;
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    uint64_t not_for_me = 0, tx_ring_full = 0, rx_empty_polls = 0, fill_fail = 0, tx_kicks = 0;
    xsk::Statistics xdp;  // the kernel's, for the socket

    static QueueSample read(uint32_t queue, const QueueCounters& c, const xsk::Statistics& xdp);
    QueueSample& operator+=(const QueueSample& o);
    QueueSample operator-(const QueueSample& o) const;  // per-interval deltas
    nlohmann::json to_json() const;
};

struct Sample {
    double elapsed = 0;  // seconds since start
    std::vector<QueueSample> queues;
    QueueSample total() const;
};

class Reporter {
public:
    Reporter(std::string app, std::string ifname, bool json, bool quiet)
        : app_(std::move(app)), ifname_(std::move(ifname)), json_(json), quiet_(quiet) {}

    // The per-second output: rates over (prev, cur], counters cumulative.
    void interval(const Sample& prev, const Sample& cur) const;
    // The final summary; `why` says what stopped the app.
    void summary(const Sample& last, const std::string& why) const;
    // Any other line (start, meta, notes): JSON object or text, flushed.
    void emit(const nlohmann::json& j, const std::string& text) const;

private:
    std::string app_, ifname_;
    bool json_, quiet_;
};

}  // namespace xdpd::xskapp
