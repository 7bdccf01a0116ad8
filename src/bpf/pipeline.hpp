// Pipeline: one loaded instance of the xdpd XDP program (bpf/xdpd.bpf.c).
// Each attached interface gets its own instance (its load-time config differs:
// stats slot, features); all instances share one set of maps, either pinned in
// bpffs (the daemon) or borrowed from a first instance (tests, benchmarks).
#pragma once
#include <linux/types.h>

#include <memory>
#include <string>
#include <vector>

#include "bpf/map.hpp"
#include "xdpd/abi.h"

struct xdpd_bpf;

namespace xdpd::bpf {

// Load-time configuration: becomes the program's const volatile cfg_* values.
struct PipelineConfig {
    __u32 ifslot = 0;
    bool firewall = false;
    __u32 malformed_action = XDPD_ACT_DROP;
    bool multibuf = false;  // count bytes of every fragment (jumbo frames)
    bool shield = true;     // allow list and bans (free while both are empty)
    bool ratelimit = false; // rate limits named by allow rules or mitigation actions
    bool watch = false;     // automatic mitigation's counters and state (bpf/watch.h)
    // SYN cookies (bpf/syncookie.h): SYNs to these TCP ports (at most
    // XDPD_SYNCOOKIE_MAX_PORTS) are answered in XDP; empty = stage compiled out.
    std::vector<__u16> syncookie_ports;
    __u16 syncookie_mss4 = 1460, syncookie_mss6 = 1440;  // MSS the SYN-ACK advertises
    __u8 syncookie_wscale = 7;                            // our window scale
    __u8 syncookie_ttl = 64;                              // TTL / hop limit of the SYN-ACK
    bool syncookie_auto = false;  // answer SYNs only where a watch switched cookies on
    bool lb = false;        // L4 load balancer (bpf/lb.h)
    bool lb_nat = false;    // ... with NAT services, whose replies are rewritten
    bool lb_probe = false;  // an `lb lookup` instance: decides, records, changes and counts nothing
    bool observe = true;    // capture, top sources, events (bpf/observe.h); off = compiled out
    bool steer = false;     // steer rules (bpf/steer.h): AF_XDP sockets, CPUMAP
    __u32 steer_no_socket = XDPD_ACT_PASS;  // steered to a queue without socket: PASS or DROP

    std::string describe() const;  // "firewall=on multibuf=off malformed=drop"
};

// Names of the maps every instance shares (as in bpf/maps.h).
const std::vector<std::string>& shared_map_names();

class Pipeline {
public:
    // Loads an instance whose shared maps are pinned under pin_dir (reused when
    // present, created and pinned when not).
    static Pipeline load_pinned(const PipelineConfig& cfg, const std::string& pin_dir);
    // Loads an instance that shares the maps of `other` (or owns fresh maps when
    // other is null). Nothing is pinned.
    static Pipeline load(const PipelineConfig& cfg, const Pipeline* other = nullptr);
    // Programs this process loaded into the kernel (metrics).
    static uint64_t loads();

    Pipeline(Pipeline&&) noexcept;
    Pipeline& operator=(Pipeline&&) noexcept;
    ~Pipeline();

    int prog_fd() const;
    __u32 prog_id() const;
    MapRef map(const std::string& name) const;  // borrowed fd
    const PipelineConfig& config() const { return cfg_; }

private:
    Pipeline() = default;
    static Pipeline load_impl(const PipelineConfig& cfg, const std::string* pin_dir,
                              const Pipeline* other);
    struct SkelDeleter {
        void operator()(xdpd_bpf* s) const;
    };
    std::unique_ptr<xdpd_bpf, SkelDeleter> skel_;
    PipelineConfig cfg_;
};

}  // namespace xdpd::bpf
