// Lab: the standard xdpd lab, three hosts on one switch, each in its own
// network namespace:
//
//   PREFIX-client   cli0 10.77.0.2/24 fd77::2/64 ─┐
//   PREFIX-attacker atk0 10.77.0.3/24 fd77::3/64 ─┼─ PREFIX-sw: br0 (sw-cli, sw-atk, sw-srv)
//   PREFIX-server   srv0 10.77.0.1/24 fd77::1/64 ─┘
//
// Offloads are off on every veth (XDP sees finished checksums), all links are
// up, IPv6 addresses are usable at once. The destructor removes everything,
// also when a test failed; cleanup_stale()/cleanup_orphans() remove what a
// crashed run left behind.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "net/netns.hpp"

namespace xdpd::net {

class Lab {
public:
    enum class Host { server, client, attacker };

    // The default prefix: base of unique_prefix() for labs.
    static constexpr std::string_view kBase = "xl";
    static constexpr const char* kBridge = "br0";  // in sw()
    static constexpr int kPrefixLen4 = 24;
    static constexpr int kPrefixLen6 = 64;

    // Builds the topology; throws (after removing what it built) on failure.
    explicit Lab(std::string prefix = unique_prefix(kBase));
    Lab(Lab&&) = default;
    Lab& operator=(Lab&&) = default;
    ~Lab() = default;  // the Netns members remove the namespaces

    const std::string& prefix() const { return prefix_; }

    const Netns& ns(Host h) const;
    const Netns& server() const { return server_; }
    const Netns& client() const { return client_; }
    const Netns& attacker() const { return attacker_; }
    const Netns& sw() const { return sw_; }

    // The host's interface in its namespace: "srv0", "cli0", "atk0".
    static std::string ifname(Host h);
    // The switch port (in sw()) that h is plugged into: "sw-srv", ...
    static std::string switch_port(Host h);
    // The host's address without prefix length; version is 4 or 6.
    static std::string addr(Host h, int version = 4);
    // The same with the prefix length: "10.77.0.1/24", "fd77::1/64".
    static std::string cidr(Host h, int version = 4);

    static std::string server_addr(int version = 4) { return addr(Host::server, version); }
    static std::string client_addr(int version = 4) { return addr(Host::client, version); }
    static std::string attacker_addr(int version = 4) { return addr(Host::attacker, version); }

    // Namespace names, in creation order.
    std::vector<std::string> netns_names() const;

    // Keeps the namespaces after destruction (e.g. `xdpd lab up`); remove
    // them later with cleanup_stale(prefix()). Give such a lab a fixed prefix
    // of its own: one from unique_prefix(kBase) would be taken by
    // cleanup_orphans() once this process exits.
    void release();

    // Removes every namespace whose name starts with prefix (processes in it
    // are killed first). prefix must not be empty. Returns the names removed.
    static std::vector<std::string> cleanup_stale(std::string_view prefix);

    // Removes namespaces named like unique_prefix(base) ("xl4021a-client")
    // whose creating process no longer runs: what crashed runs left, without
    // touching labs of runs still going. Returns the names removed.
    static std::vector<std::string> cleanup_orphans(std::string_view base = kBase);

private:
    void build();

    std::string prefix_;
    Netns server_, client_, attacker_, sw_;
};

}  // namespace xdpd::net
