// xdp-filter (xdp-tools) as a comparison point, driven through its own CLI on
// a throw-away interface, then timed with BPF_PROG_TEST_RUN on the program it
// attached. Everything is undone on destruction (also when unwinding).
#pragma once
#include <linux/types.h>

#include <optional>
#include <string>

#include "bench/rulesets.hpp"
#include "util/fd.hpp"

namespace xdpd::bench {

// A network interface that exists for the lifetime of the object: a dummy
// interface, or a veth pair when the kernel has no dummy driver.
class ScratchInterface {
public:
    explicit ScratchInterface(std::string name);  // throws if neither type can be created
    ~ScratchInterface();
    ScratchInterface(const ScratchInterface&) = delete;
    ScratchInterface& operator=(const ScratchInterface&) = delete;

    const std::string& name() const { return name_; }
    const std::string& kind() const { return kind_; }  // "dummy" or "veth"
    int ifindex() const { return ifindex_; }

private:
    std::string name_, kind_;
    int ifindex_ = 0;
};

// Why xdp-filter cannot be benchmarked here, or nullopt if it can.
std::optional<std::string> xdp_filter_unavailable();

struct XdpFilterAddReport {
    size_t cli_commands = 0;   // xdp-filter processes spawned to add rules
    double cli_ms = 0;         // their total wall time
    size_t bulk_entries = 0;   // addresses written straight into xdp-filter's pinned map
    double bulk_ms = 0;
    std::string describe() const;
};

class XdpFilterSession {
public:
    // `xdp-filter load IFNAME -m skb` (policy allow, all features). Throws with
    // xdp-filter's own message on failure.
    explicit XdpFilterSession(const ScratchInterface& iface);
    ~XdpFilterSession();  // `xdp-filter unload IFNAME`
    XdpFilterSession(const XdpFilterSession&) = delete;
    XdpFilterSession& operator=(const XdpFilterSession&) = delete;

    // Adds the rules. Ports and the first `cli_addresses` addresses go through
    // the xdp-filter CLI, one process each. The remaining addresses are written
    // into xdp-filter's pinned filter_ipv4 map in one batch, with the exact
    // value the CLI wrote for the first address (read back from the map);
    // `cli_addresses` >= the number of addresses sends everything through the CLI.
    XdpFilterAddReport add(const XdpFilterRuleSet& rules, size_t cli_addresses);

    // Entries in xdp-filter's filter_ipv4 map (a check that add() worked).
    size_t ipv4_entries() const;

    // The program attached to the interface (the libxdp dispatcher, or
    // xdp-filter's program itself when libxdp fell back to a single program).
    int prog_fd() const { return prog_.get(); }
    __u32 prog_id() const { return prog_id_; }
    const std::string& prog_name() const { return prog_name_; }

private:
    const ScratchInterface& iface_;
    UniqueFd prog_;
    __u32 prog_id_ = 0;
    std::string prog_name_;
};

}  // namespace xdpd::bench
