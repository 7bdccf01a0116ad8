// CLOCK_MONOTONIC, the clock of the data plane's timestamps (bpf_ktime_get_ns)
// and of every interval the control plane measures.
#pragma once
#include <time.h>

#include <cstdint>

namespace xdpd {

inline uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline double monotonic_s() { return double(monotonic_ns()) / 1e9; }

}  // namespace xdpd
