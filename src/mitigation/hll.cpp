#include "mitigation/hll.hpp"

#include <cmath>

namespace xdpd::mitigation {

double hll_estimate(const HllRegisters& reg) {
    constexpr double m = XDPD_WATCH_HLL;
    const double alpha = 0.7213 / (1 + 1.079 / m);
    double sum = 0;
    int zeros = 0;
    for (uint8_t r : reg) {
        sum += std::ldexp(1.0, -int(r));
        zeros += r == 0;
    }
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / zeros);
    return e;
}

void hll_add(HllRegisters& reg, uint64_t hash) {
    const unsigned idx = unsigned(hash & (XDPD_WATCH_HLL - 1));
    const uint32_t x = uint32_t(hash >> 8);
    const uint8_t rank = x ? uint8_t(1 + __builtin_ctz(x)) : 33;
    if (reg[idx] < rank) reg[idx] = rank;
}

}  // namespace xdpd::mitigation
