// Attack detection for one watch: smoothed rates (EWMA) against thresholds,
// with a cooldown before an attack is declared over. Pure logic, no kernel.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace xdpd::mitigation {

// Per second, for one watch.
struct Rates {
    double pps = 0, bps = 0, syn_pps = 0, udp_pps = 0, icmp_pps = 0;
    double sources = 0;  // distinct sources per second (HyperLogLog estimate)
};

// A smoothed rate above its threshold.
struct Crossing {
    std::string metric;  // "pps", "bps", "syn_pps", "udp_pps", "icmp_pps", "sources"
    double value = 0, threshold = 0;
    std::string str() const;  // "syn_pps 51234 > 1000"
};

std::vector<Crossing> crossings(const Rates& r, const config::Thresholds& t);

class Detector {
public:
    enum class Change { none, started, ended };

    Detector(config::Thresholds t, std::chrono::seconds smoothing, std::chrono::seconds cooldown);

    // Feeds the rates measured over the last dt seconds; now is any monotonic
    // time in seconds. The first sample seeds the average.
    Change update(const Rates& measured, double dt, double now);

    // A restarted daemon finds an attack in force: carry on from there.
    void adopt(double now);
    void set_thresholds(config::Thresholds t) { thresholds_ = t; }

    bool active() const { return active_; }
    const Rates& smoothed() const { return smoothed_; }
    const Rates& peak() const { return peak_; }      // of the current (or last) attack
    double started_at() const { return since_; }
    std::vector<Crossing> crossings() const { return mitigation::crossings(smoothed_, thresholds_); }
    const config::Thresholds& thresholds() const { return thresholds_; }

private:
    config::Thresholds thresholds_;
    double tau_, cooldown_;
    bool seeded_ = false, active_ = false;
    Rates smoothed_, peak_;
    double since_ = 0, quiet_since_ = -1;
};

}  // namespace xdpd::mitigation
