#include "shield/limits.hpp"

#include <cmath>
#include <stdexcept>

namespace xdpd::shield {
namespace {

xdpd_rate packet_rate(const Rate& r) {
    if (r.pps <= 0) return {};
    const double interval = 1e9 / r.pps;  // ns per packet
    const double burst = r.burst > 0 ? r.burst : std::max(1.0, r.pps);
    return {__u64(std::llround(std::max(1.0, interval))), __u64(std::llround((burst - 1) * interval))};
}

xdpd_rate byte_rate(const Rate& r) {
    if (r.bps <= 0) return {};
    const double ps_per_byte = 8e12 / r.bps;
    const double burst = r.burst_bytes > 0 ? r.burst_bytes : std::max(1500.0, r.bps / 8);
    return {__u64(std::llround(std::max(1.0, ps_per_byte))), __u64(std::llround(burst * ps_per_byte / 1000))};
}

}  // namespace

xdpd_limit to_data_plane(const LimitProfile& p) {
    xdpd_limit l{};
    const Rate* levels[XDPD_LIM_LEVELS] = {&p.per_source, &p.per_prefix, &p.per_destination};
    for (int i = 0; i < XDPD_LIM_LEVELS; ++i) {
        l.pkt[i] = packet_rate(*levels[i]);
        l.byte[i] = byte_rate(*levels[i]);
    }
    l.prefix_v4 = __u8(p.prefix_v4);
    l.prefix_v6 = __u8(p.prefix_v6);
    return l;
}

void install_limits(const bpf::MapRef& limits, const std::vector<LimitProfile>& profiles) {
    if (profiles.size() > XDPD_MAX_LIMITS)
        throw std::runtime_error("more than " + std::to_string(XDPD_MAX_LIMITS) + " rate-limit profiles");
    bpf::Map<__u32, xdpd_limit> m(limits);
    for (__u32 i = 0; i < XDPD_MAX_LIMITS; ++i)
        m.update(i, i < profiles.size() ? to_data_plane(profiles[i]) : xdpd_limit{});
}

}  // namespace xdpd::shield
