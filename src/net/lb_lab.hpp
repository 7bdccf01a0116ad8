// LbLab: the lab of the XDP L4 load balancer. A client, the load balancer
// host and n backends (3 by default) on one switch, each in its own network
// namespace:
//
//   PREFIX-client cli0 10.77.0.2/24 fd77::2/64                      ─┐
//   PREFIX-lb     lb0  10.77.0.1/24 fd77::1/64 10.78.0.1/24 fd78::1/64 ─┤ PREFIX-sw: br0
//   PREFIX-be1    be0  10.78.0.11/24 fd78::11/64                    ─┤ (sw-cli, sw-lb,
//   PREFIX-be2    be0  10.78.0.12/24 fd78::12/64                    ─┤  sw-be1, sw-be2, ...)
//   PREFIX-be3    be0  10.78.0.13/24 fd78::13/64                    ─┘
//
// The client routes the VIP prefixes (10.99.0.0/24, fd99::/64) and the backend
// subnet (10.78.0.0/24, fd78::/64) via the LB host; the backends' default
// route is the LB host, which forwards between the two subnets on lb0 (IPv4
// and IPv6). Without an XDP program the LB host is a plain router: the client
// reaches every backend's real address through its kernel, and nobody answers
// for a VIP. With the load balancer on lb0, the VIPs are its.
//
// Both subnets share one L2 segment, so the lab turns off what would let the
// hosts take shortcuts past the LB host (ICMP redirects), makes the client
// answer ARP from the backends' subnet (arp_ignore 0: DSR replies) and does
// not depend on the host's rp_filter; see lb_lab.cpp. enable_dsr() prepares
// the backends for direct server return.
//
// With Links::two the LB host has a second interface for the backends, on a
// second bridge (br1: sw-lb1 and the backends' ports):
//
//   client cli0 ─ br0 ─ lb0 10.77.0.1 fd77::1   [LB]   lb1 10.78.0.1 fd78::1 ─ br1 ─ be0 (backends)
//
// so that the load balancer forwards between interfaces (XDP_REDIRECT).
// DSR needs the one-link topology (the backends answer the client directly).
//
// Offloads are off on every veth, all links are up, IPv6 addresses are usable
// at once (no DAD). Like Lab: the destructor removes everything, also when a
// test failed; the namespaces are named like Lab's (unique_prefix(Lab::kBase)),
// so Lab::cleanup_orphans() also removes the LbLabs of crashed runs.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "net/lab_topology.hpp"
#include "net/netns.hpp"

namespace xdpd::net {

class LbLab {
public:
    // Lab's base, on purpose: Lab::cleanup_orphans() must find our leftovers.
    static constexpr std::string_view kBase = Lab::kBase;
    static constexpr const char* kBridge = "br0";  // in sw()
    static constexpr const char* kClientIf = "cli0";
    static constexpr const char* kLbIf = "lb0";
    static constexpr const char* kLbBackendIf = "lb1";  // Links::two: the backends' side
    static constexpr const char* kBackendBridge = "br1";  // Links::two, in sw()
    enum class Links { one, two };
    static constexpr const char* kBackendIf = "be0";  // in every backend
    static constexpr int kDefaultBackends = 3;
    static constexpr int kMaxBackends = 50;  // 10.78.0.11 .. 10.78.0.60
    static constexpr int kPrefixLen4 = 24;
    static constexpr int kPrefixLen6 = 64;
    // The routing table of the backends' DSR replies (enable_dsr()).
    static constexpr int kDsrTable = 100;

    // Builds the topology; throws (after removing what it built) on failure.
    // n_backends: 1 .. kMaxBackends.
    explicit LbLab(std::string prefix = unique_prefix(kBase), int n_backends = kDefaultBackends,
                   Links links = Links::one);
    explicit LbLab(int n_backends) : LbLab(unique_prefix(kBase), n_backends) {}
    explicit LbLab(Links links) : LbLab(unique_prefix(kBase), kDefaultBackends, links) {}
    Links links() const { return links_; }
    // The LB host's interface towards the backends: lb0, or lb1 with Links::two.
    std::string lb_backend_if() const { return links_ == Links::two ? kLbBackendIf : kLbIf; }
    static std::string switch_port_lb_backend() { return "sw-lb1"; }  // Links::two
    LbLab(LbLab&&) = default;
    LbLab& operator=(LbLab&&) = default;
    ~LbLab() = default;  // the Netns members remove the namespaces

    const std::string& prefix() const { return prefix_; }
    int n_backends() const { return int(backends_.size()); }

    // Namespaces. Backends are numbered from 0: backend(0) is PREFIX-be1.
    const Netns& client() const { return client_; }
    const Netns& lb() const { return lb_; }
    const Netns& backend(int i) const;
    const Netns& sw() const { return sw_; }

    // Interfaces in their hosts' namespaces.
    static std::string client_if() { return kClientIf; }
    static std::string lb_if() { return kLbIf; }
    static std::string backend_if() { return kBackendIf; }
    // Switch ports in sw(): the peers of cli0, lb0, backend i's be0. An XDP
    // program on the LB's port lets lb0's XDP_TX frames through (a veth drops
    // frames sent with XDP_TX unless its peer runs XDP or has GRO on).
    static std::string switch_port_client() { return "sw-cli"; }
    static std::string switch_port_lb() { return "sw-lb"; }
    static std::string switch_port_backend(int i);  // "sw-be1", ...
    std::vector<std::string> switch_ports() const;

    // "be1", "be2", ...: the host part of backend i's namespace name, and a
    // good whoami name for its servers.
    static std::string backend_name(int i);

    // Addresses without prefix length; version is 4 or 6.
    static std::string client_addr(int version = 4);              // 10.77.0.2, fd77::2
    static std::string lb_addr(int version = 4);                  // 10.77.0.1, fd77::1 (the client's gateway)
    static std::string lb_backend_side_addr(int version = 4);     // 10.78.0.1, fd78::1 (the backends' gateway)
    static std::string backend_addr(int i, int version = 4);      // 10.78.0.11+i, fd78::11+i (decimal digits)
    // VIP k of the VIP prefixes: 10.99.0.(1+k), fd99::(1+k). Not configured
    // anywhere (but on the backends' lo after enable_dsr()).
    static std::string vip(int version = 4, int k = 0);
    static std::string vip_prefix(int version = 4);               // 10.99.0.0/24, fd99::/64
    static std::string client_subnet(int version = 4);            // 10.77.0.0/24, fd77::/64
    static std::string backend_subnet(int version = 4);           // 10.78.0.0/24, fd78::/64

    // MAC addresses ("aa:bb:cc:dd:ee:ff"), read when the lab was built.
    const std::string& client_mac() const { return client_mac_; }
    const std::string& lb_mac() const { return lb_mac_; }
    const std::string& backend_mac(int i) const;

    // Direct server return on every backend, for the given VIPs (IPv4 and
    // IPv6 mixed; again for a VIP already enabled is a no-op):
    //  - the VIP on lo (/32, /128), so the backend accepts packets for it;
    //  - arp_ignore=1 (answer ARP only for be0's own addresses: never claim a
    //    VIP on the segment) and arp_announce=2 (ARP requests carry be0's
    //    address, not the VIP);
    //  - `ip rule from VIP lookup kDsrTable`, with kDsrTable holding only the
    //    client subnet on-link on be0: replies from a VIP go to the client
    //    directly; replies from the backend's own address still go through
    //    the LB host (NAT mode).
    void enable_dsr(const std::vector<std::string>& vips);
    const std::vector<std::string>& dsr_vips() const { return dsr_vips_; }

    // Namespace names, in creation order: client, lb, be1.., sw.
    std::vector<std::string> netns_names() const;

    // Keeps the namespaces after destruction; see Lab::release().
    void release();

    // Lab's: removes every namespace whose name starts with prefix.
    static std::vector<std::string> cleanup_stale(std::string_view prefix) { return Lab::cleanup_stale(prefix); }
    // Lab's: namespaces of crashed runs (Lab's and LbLab's, same naming).
    static std::vector<std::string> cleanup_orphans(std::string_view base = kBase) {
        return Lab::cleanup_orphans(base);
    }

private:
    void build();

    Links links_ = Links::one;
    std::string prefix_;
    Netns client_, lb_;
    std::vector<Netns> backends_;
    Netns sw_;
    std::string client_mac_, lb_mac_;
    std::vector<std::string> backend_macs_;
    std::vector<std::string> dsr_vips_;
};

// The MAC address of ifname in ns, lower case. Throws CommandError.
std::string mac_address(const Netns* ns, const std::string& ifname);

// Writes sysctls under /proc/sys in ns, e.g. {"net/ipv4/ip_forward", "1"}
// (slashes, not dots: interface names may contain dots). One forked child for
// all of them; throws std::runtime_error naming the first that failed.
void set_sysctls(const Netns& ns, const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace xdpd::net
