// Rate-limit profiles: what an operator writes (packets/s, bits/s, bursts, per
// source, per source prefix, per destination) and what the data plane runs
// (GCRA intervals and tolerances, abi.h struct xdpd_limit).
#pragma once
#include <string>
#include <vector>

#include "bpf/map.hpp"
#include "xdpd/abi.h"

namespace xdpd::shield {

struct Rate {
    double pps = 0;            // 0: no packet rate
    double burst = 0;          // packets; 0: one second's worth
    double bps = 0;            // bits per second; 0: no byte rate
    double burst_bytes = 0;    // bytes; 0: one second's worth
    bool set() const { return pps > 0 || bps > 0; }
};

struct LimitProfile {
    std::string name;
    Rate per_source, per_prefix, per_destination;
    int prefix_v4 = 24, prefix_v6 = 64;  // how per_prefix groups sources
    std::string origin;                  // "file:line"
};

xdpd_limit to_data_plane(const LimitProfile& p);

// Writes profiles to xdpd_limits (index = position); clears the rest.
void install_limits(const bpf::MapRef& limits, const std::vector<LimitProfile>& profiles);

}  // namespace xdpd::shield
