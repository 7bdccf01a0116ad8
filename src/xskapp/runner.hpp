// Runner: one app run. Binds a socket per queue (Queue), registers them in
// xdpd's XSKMAP (Registration), starts one pinned worker thread per queue,
// then reports every second until SIGINT/SIGTERM, --duration or --count, and
// stops cleanly: entries erased, threads joined, summary printed.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "xskapp/apps.hpp"
#include "xskapp/options.hpp"
#include "xskapp/queue.hpp"
#include "xskapp/stats.hpp"

namespace xdpd::xskapp {

class Runner {
public:
    explicit Runner(AppOptions o);
    // Returns the exit code (0 after a clean stop). Throws for setup errors.
    int run();

private:
    Sample sample(double elapsed) const;
    void open_queues();
    nlohmann::json start_json() const;

    AppOptions o_;
    Reporter reporter_;
    std::atomic<bool> stop_{false};
    AppShared shared_;
    std::vector<std::unique_ptr<Queue>> queues_;
};

}  // namespace xdpd::xskapp
