// The benchmark's output: a table for people, JSON for machines, and the ratio
// the project promises (cost of 10,000 rules / cost of 10 rules <= 1.3).
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "bench/cases.hpp"

namespace xdpd::bench {

inline constexpr double kMaxScalingRatio = 1.3;

// Where and how the run happened.
struct RunInfo {
    std::string date;     // UTC, ISO 8601
    std::string kernel;   // uname -r
    std::string cpu_model;
    int online_cpus = 0;
    int pinned_cpu = -1;
    std::string loadavg;  // /proc/loadavg at the start: other work on the machine
    std::string command;  // argv joined
    MeasureOptions measure;
    static RunInfo collect(int pinned_cpu, const std::string& command, const MeasureOptions& m);
};

// cost(fw:10000) / cost(fw:10) for the miss packet at `frame_label` ("miss-64").
// Nullopt when either case is missing or failed.
// "XDP_DROP", ...: a verdict as the kernel's headers name it.
const char* verdict_name(__u32 action);

std::optional<double> scaling_ratio(const std::vector<CaseResult>& results,
                                    const std::string& frame_label = "miss-64");

std::string render_table(const RunInfo& info, const std::vector<CaseResult>& results,
                         const BenchOptions& opts);
nlohmann::json render_json(const RunInfo& info, const std::vector<CaseResult>& results,
                           const BenchOptions& opts);

}  // namespace xdpd::bench
