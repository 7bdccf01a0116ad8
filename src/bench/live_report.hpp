// xdpd-livebench's output: a table beside the bare XDP_DROP baseline of the
// same run, or JSON with every counter reading.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "bench/live_run.hpp"

namespace xdpd::bench {

std::string render_live_table(const LiveRun& run, const LiveOptions& o);
nlohmann::json render_live_json(const LiveRun& run, const LiveOptions& o);

// The functional check (the e2e test's, and --check's): every case ran, its
// mechanism counted drops, and over the whole flood its count matches the
// frames handed to the receiver within `tolerance` (a share, e.g. 0.01).
// Returns the problems, empty when all is well.
std::vector<std::string> check_live(const LiveRun& run, double tolerance);

}  // namespace xdpd::bench
