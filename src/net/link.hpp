// Links and addresses in a namespace, through iproute2 and ethtool.
// ns == nullptr means the current namespace. Every function throws
// CommandError (naming the command and its stderr) when the tool fails.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "net/process.hpp"

namespace xdpd::net {

class Netns;

// Runs `ip ARGS...` in ns; throws CommandError on failure. Returns its output.
CmdResult ip_cmd(const Netns* ns, std::vector<std::string> args);

// A veth pair: a_if in a, b_if in b. Each end is created directly in its
// namespace, so the names never exist (or collide) in the current one.
void veth_pair(const Netns* a, std::string a_if, const Netns* b, std::string b_if);

// "10.0.0.1/24" or "fd00::1/64". IPv6 addresses are added with nodad, so they
// are usable at once (no tentative phase).
void add_addr(const Netns* ns, const std::string& ifname, const std::string& cidr);

void link_up(const Netns* ns, const std::string& ifname);

// Waits until ifname is operationally up and, unless it has no IPv6, until
// IPv6 is configured on it (its ff00::/8 multicast route exists; before that
// the kernel drops neighbour solicitations for its addresses). `ip link set up`
// returns before this: the kernel finishes in its linkwatch worker, at once
// for most veths but up to a second later for a veth whose ifindex equals its
// peer's (typical for fresh namespaces). Throws std::runtime_error on timeout.
void wait_link_up(const Netns* ns, const std::string& ifname,
                  std::chrono::milliseconds timeout = std::chrono::seconds(3));
void set_mtu(const Netns* ns, const std::string& ifname, int mtu);

// ethtool -K: checksum offloads, scatter-gather, TSO/GSO/GRO off, so an XDP
// program on the receiving side sees finished checksums and wire-sized frames.
void disable_offloads(const Netns* ns, const std::string& ifname);

// A Linux bridge br (created, STP off, forward delay 0, multicast snooping off,
// brought up) with members enslaved. Members are not brought up here.
void bridge(const Netns* ns, const std::string& br, const std::vector<std::string>& members);

// The interface's index in ns. Throws CommandError if it does not exist.
int ifindex(const Netns* ns, const std::string& ifname);

}  // namespace xdpd::net
