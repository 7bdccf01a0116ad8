// The data plane's side of automatic mitigation (bpf/watch.h, abi.h): watch
// prefixes, per-watch counters and HyperLogLog registers, the state later
// stages obey, and the sampled (source, watch) table. Borrows the maps' fds.
#pragma once
#include <functional>
#include <vector>

#include "bpf/map.hpp"
#include "config/config.hpp"
#include "fw/rule.hpp"
#include "mitigation/hll.hpp"
#include "xdpd/abi.h"

namespace xdpd::mitigation {

struct SourceCount {
    fw::Cidr source;        // a host address
    __u64 packets = 0;      // sampled
    __u64 bytes = 0;
};

class WatchMaps {
public:
    // get(name) returns the map of that name (e.g. DataPlane's pinned maps).
    explicit WatchMaps(const std::function<bpf::MapRef(const std::string&)>& get);

    // Makes xdpd_watch_prefixes hold exactly the watches' prefixes (index =
    // position; watch 0 has none) and publishes their number.
    void install_prefixes(const std::vector<config::WatchConfig>& watches);

    xdpd_watch_stats counters(__u32 watch) const;  // summed over CPUs
    HllRegisters take_hll(__u32 watch);            // merged over CPUs, then cleared
    xdpd_watch state(__u32 watch) const;
    void set_state(__u32 watch, const xdpd_watch& s);
    void set_tracking(unsigned one_in_n);          // 0: off
    unsigned tracking() const;
    std::vector<SourceCount> sources(__u32 watch) const;
    void clear_sources();

private:
    bpf::MapRef prefixes_, stats_, hll_, state_, sources_, runtime_;
};

}  // namespace xdpd::mitigation
