// The live benchmark's wire: two network namespaces joined by one veth pair.
//
//   PREFIX-tx  PREFIXg ──veth── PREFIXr  PREFIX-rx   (10.77.0.3/24 ── 10.77.0.1/24,
//                                                 the lab's attacker and server)
//
// Frames come in on PREFIXr as XDP frames sent with ndo_xdp_xmit by the
// generator on PREFIXg (live_generator.hpp). A veth only accepts those when
// the receiver's NAPI is enabled, which takes an XDP program or GRO: GRO is
// turned on so that the receiver also takes them without any XDP program (the
// nftables cases), through the normal skb path. The receiver's NAPI runs in a
// kernel thread (threaded NAPI) pinned to its own CPU, so that the receiver
// does not share the generator's CPU. Everything goes with the namespaces.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "net/netns.hpp"
#include "pkt/packet_builder.hpp"
#include "util/fd.hpp"

namespace xdpd::bench {

// Enters a namespace for the calling thread and goes back on destruction.
// Does not touch the mount namespace (bpffs stays the host's).
class NetnsGuard {
public:
    explicit NetnsGuard(const net::Netns& ns);
    ~NetnsGuard();
    NetnsGuard(const NetnsGuard&) = delete;
    NetnsGuard& operator=(const NetnsGuard&) = delete;

private:
    UniqueFd home_;
};

// Counters of `ethtool -S IFNAME` in ns, by name.
std::map<std::string, uint64_t> ethtool_stats(const net::Netns& ns, const std::string& ifname);

class LiveTopology {
public:
    // rx_cpu >= 0: the receiver's NAPI runs threaded, pinned to rx_cpu (and
    // SCHED_FIFO priority 1 with rt); -1: NAPI runs in softirq context on the
    // CPU that sends (the generator's).
    explicit LiveTopology(int rx_cpu, bool rt = false, std::string prefix = net::unique_prefix("xlb"));

    const net::Netns& tx() const { return tx_; }
    const net::Netns& rx() const { return rx_; }
    // Interface names: unique, so that the NAPI thread's name ("napi/IF-N")
    // is too.
    const std::string& tx_if() const { return tx_if_; }
    const std::string& rx_if() const { return rx_if_; }
    pkt::Mac rx_mac() const { return rx_mac_; }
    pkt::Mac tx_mac() const { return tx_mac_; }
    int tx_ifindex() const { return tx_ifindex_; }
    int rx_ifindex() const { return rx_ifindex_; }

    // Re-applies the NAPI thread's CPU affinity (the kernel creates a new
    // thread when the receiver's NAPI is re-created). Returns how many threads it
    // pinned; 0 with rx_cpu == -1.
    int pin_napi() const;
    // CPU time the receiver's NAPI threads used so far (schedstat, ns
    // precision); 0 with rx_cpu == -1 (NAPI in softirq: not a thread).
    double napi_cpu_seconds() const;
    // "threaded NAPI on CPU 1" or "NAPI in softirq on the sender's CPU".
    std::string napi_description() const;

private:
    // The receiver veth's NAPI threads: (pid, comm).
    std::vector<std::pair<pid_t, std::string>> napi_threads() const;
    std::string prefix_;
    net::Netns tx_, rx_;
    std::string tx_if_, rx_if_;
    int rx_cpu_;
    bool rt_;
    pkt::Mac rx_mac_{}, tx_mac_{};
    int tx_ifindex_ = 0, rx_ifindex_ = 0;
};

}  // namespace xdpd::bench
