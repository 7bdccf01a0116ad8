// The daemon's Prometheus metrics (docs/observability.md has the reference):
// the data plane's counters, the firewall's rules, shield, limiter,
// mitigation, load balancer, observe stage, and the daemon's own health.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "daemon/dataplane.hpp"
#include "mitigation/events.hpp"
#include "mitigation/mitigator.hpp"
#include "observe/observer.hpp"

namespace xdpd::daemon {

// What the daemon knows about itself.
struct DaemonFacts {
    double start_time = 0;  // CLOCK_REALTIME seconds
    uint64_t reloads_ok = 0, reloads_rejected = 0;
    double last_scrape_s = 0;
};

class MetricsRenderer {
public:
    // Entries of big LRU tables and of the ban list are counted at most once
    // per kCountEvery seconds (a count reads the whole table).
    static constexpr double kCountEvery = 10;

    std::string render(const DataPlane& dp, const mitigation::Mitigator& mit, const mitigation::EventLog& events,
                       const observe::Observer& obs, const DaemonFacts& facts);

private:
    double counted_at_ = -1e9;
    uint64_t buckets_ = 0, flows_ = 0;
};

}  // namespace xdpd::daemon
