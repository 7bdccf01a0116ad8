// The shield's allow list and ban list in the data plane (LPM tries
// xdpd_allow and xdpd_bans). Bans carry an expiry on the data plane's clock
// (CLOCK_MONOTONIC, or the tests' injected time), a reason and a hit count;
// entries remember who made them (config, API/CLI, automatic mitigation) so
// that a reload reconciles only what the config owns.
#pragma once
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "fw/rule.hpp"
#include "xdpd/abi.h"

namespace xdpd::shield {

struct Ban {
    fw::Cidr prefix;
    __u64 expires_ns = 0;  // 0: until removed
    __u64 created_ns = 0;
    __u64 hits = 0;
    xdpd_origin origin = XDPD_ORIGIN_API;
    std::string reason;
};

struct Allowed {
    fw::Cidr prefix;
    __u64 hits = 0;
    xdpd_origin origin = XDPD_ORIGIN_API;
};

inline constexpr size_t kOrigins = XDPD_ORIGIN_AUTO + 1;
const char* to_string(xdpd_origin o);

xdpd_lpm_key lpm_key(const fw::Cidr& c);
fw::Cidr from_lpm_key(const xdpd_lpm_key& k);

class Lists {
public:
    Lists(const bpf::MapRef& bans, const bpf::MapRef& allow, const bpf::MapRef& runtime);

    // Bans prefix for `duration` (none: until unbanned). An existing ban of the
    // same prefix is replaced (new expiry and reason, hits kept).
    void ban(const fw::Cidr& prefix, std::optional<std::chrono::nanoseconds> duration,
             const std::string& reason, xdpd_origin origin);
    bool unban(const fw::Cidr& prefix);
    std::vector<Ban> bans() const;
    // Bans by origin (config, api, auto), kept with every change: no walk.
    const std::array<uint64_t, kOrigins>& ban_counts() const { return by_origin_; }

    void allow(const fw::Cidr& prefix, xdpd_origin origin);
    bool disallow(const fw::Cidr& prefix);
    std::vector<Allowed> allowed() const;

    // Removes the bans whose time is up; returns them. Costs nothing until the
    // earliest expiry is due (the daemon calls it every second, and the table
    // holds up to XDPD_MAX_BANS entries).
    std::vector<Ban> expire();

    // The data plane's clock, in ns.
    __u64 now_ns() const;

private:
    void recount();
    void adjust(__u32& count, int delta);
    void count_ban(xdpd_origin origin, int delta);

    std::array<uint64_t, kOrigins> by_origin_{};

    // Earliest expiry among the bans (this process is their only writer);
    // UINT64_MAX when none expires.
    __u64 next_expiry_ = ~0ull;

    bpf::MapRef bans_, allow_;  // borrowed views: the caller keeps the fds open
    bpf::RuntimeView rt_;
};

}  // namespace xdpd::shield
