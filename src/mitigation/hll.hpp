// HyperLogLog: the number of distinct sources a watch saw in an interval, from
// the registers the data plane keeps (bpf/watch.h). Standard error ~6.5% with
// XDPD_WATCH_HLL = 256 registers; small counts use linear counting.
#pragma once
#include <array>
#include <cstdint>

#include "xdpd/abi.h"

namespace xdpd::mitigation {

using HllRegisters = std::array<uint8_t, XDPD_WATCH_HLL>;

double hll_estimate(const HllRegisters& reg);

// What the data plane does for one 64-bit source hash (for tests): register
// index and rank.
void hll_add(HllRegisters& reg, uint64_t hash);

}  // namespace xdpd::mitigation
