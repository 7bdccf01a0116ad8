// Snapshots of the per-interface counters, summed over CPUs, and the rates
// between two snapshots. JSON is the API's and `--json`'s format.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/map.hpp"
#include "xdpd/abi.h"

namespace xdpd::stats {

struct IfaceCounters {
    std::string name;
    __u32 ifindex = 0, slot = 0, mode = 0;
    xdpd_if_stats total{};  // summed over CPUs
};

struct Snapshot {
    double time = 0;  // seconds, CLOCK_MONOTONIC
    std::vector<IfaceCounters> ifaces;
};

// Reads every registered interface (xdpd_ifaces) and its counters (xdpd_stats).
Snapshot read(const bpf::MapRef& ifaces, const bpf::MapRef& stats);

nlohmann::json to_json(const Snapshot& s);
Snapshot from_json(const nlohmann::json& j);

// Rates between two snapshots of the same interfaces: packets/s and bits/s.
nlohmann::json rates_json(const Snapshot& prev, const Snapshot& cur);

// The human table of `xdpd stats`: totals, and rates when prev is given.
std::string format_table(const Snapshot& cur, const Snapshot* prev);

}  // namespace xdpd::stats
