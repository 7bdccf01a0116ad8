#include "mitigation/detector.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace xdpd::mitigation {
namespace {

template <class F>
void each(Rates& r, const Rates& o, F f) {
    f(r.pps, o.pps);
    f(r.bps, o.bps);
    f(r.syn_pps, o.syn_pps);
    f(r.udp_pps, o.udp_pps);
    f(r.icmp_pps, o.icmp_pps);
    f(r.sources, o.sources);
}

}  // namespace

std::string Crossing::str() const { return fmt::format("{} {:.0f} > {:.0f}", metric, value, threshold); }

std::vector<Crossing> crossings(const Rates& r, const config::Thresholds& t) {
    std::vector<Crossing> out;
    auto check = [&](const char* name, double v, const std::optional<double>& th) {
        if (th && v > *th) out.push_back({name, v, *th});
    };
    check("pps", r.pps, t.pps);
    check("bps", r.bps, t.bps);
    check("syn_pps", r.syn_pps, t.syn_pps);
    check("udp_pps", r.udp_pps, t.udp_pps);
    check("icmp_pps", r.icmp_pps, t.icmp_pps);
    check("sources", r.sources, t.sources);
    return out;
}

Detector::Detector(config::Thresholds t, std::chrono::seconds smoothing, std::chrono::seconds cooldown)
    : thresholds_(t), tau_(double(smoothing.count())), cooldown_(double(cooldown.count())) {}

Detector::Change Detector::update(const Rates& measured, double dt, double now) {
    if (!seeded_) {
        smoothed_ = measured;
        seeded_ = true;
    } else {
        const double alpha = tau_ > 0 ? 1 - std::exp(-std::max(dt, 0.0) / tau_) : 1;
        each(smoothed_, measured, [alpha](double& s, double m) { s += alpha * (m - s); });
    }
    const bool over = !crossings().empty();
    if (!active_) {
        if (!over) return Change::none;
        active_ = true;
        since_ = now;
        quiet_since_ = -1;
        peak_ = smoothed_;
        return Change::started;
    }
    each(peak_, smoothed_, [](double& p, double s) { p = std::max(p, s); });
    if (over) {
        quiet_since_ = -1;
        return Change::none;
    }
    if (quiet_since_ < 0) quiet_since_ = now;
    if (now - quiet_since_ + 1e-9 < cooldown_) return Change::none;
    active_ = false;
    return Change::ended;
}

void Detector::adopt(double now) {
    active_ = true;
    since_ = now;
    quiet_since_ = -1;
}

}  // namespace xdpd::mitigation
