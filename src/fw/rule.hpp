// The firewall's rule model: what a rule matches and what it does. Built by
// the config parser, compiled by fw/compiler into the data plane's tables.
#pragma once
#include <linux/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpd::fw {

// steer: like allow up to the rate limits, then to an AF_XDP socket or a CPU
// (Rule::steer) instead of SYN cookies, load balancer and kernel.
enum class Action { allow, deny, count, steer };

const char* to_string(Action a);

struct Cidr {
    int family = 4;                   // 4 or 6
    std::array<uint8_t, 16> addr{};   // network byte order; IPv4 in the first 4 bytes
    int prefix = 32;

    // Parses "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (host). Nullopt if invalid
    // or if host bits are set (an operator typo worth catching).
    static std::optional<Cidr> parse(const std::string& text, std::string* why = nullptr);
    std::string str() const;
    bool contains(const uint8_t* addr16) const;  // addr16: 16 bytes, IPv4 in first 4
};

struct PortRange {
    uint16_t lo = 0, hi = 65535;
    bool contains(uint16_t p) const { return p >= lo && p <= hi; }
};

// TCP flags match: (packet_flags & mask) == value.
struct TcpFlags {
    uint8_t value = 0, mask = 0;
    // Parses "syn", "syn,!ack", "fin|rst" style lists: each name sets a bit to
    // be 1, a name with '!' sets it to be 0. Separators ',' or '|' or ' '.
    static std::optional<TcpFlags> parse(const std::string& text, std::string* why = nullptr);
    std::string str() const;
};

// Every field is optional; a rule matches a packet when all given fields match.
struct Match {
    std::optional<int> family;        // 4 or 6: only that IP version
    std::optional<Cidr> src, dst;
    std::optional<uint8_t> proto;     // IPPROTO_*
    std::optional<PortRange> sport, dport;
    std::optional<TcpFlags> tcp_flags;
    std::optional<uint8_t> icmp_type, icmp_code;
    std::optional<uint16_t> vlan;     // outer VLAN id
    std::optional<std::string> iface; // ingress interface name
    std::optional<__u32> ifindex;     // resolved from iface by the control plane

    bool has_l4() const { return sport || dport || tcp_flags || icmp_type || icmp_code; }
    // The IP version this match is limited to, if any (explicit or implied by an
    // address or by icmp/icmpv6).
    std::optional<int> implied_family() const;
};

// Where a steer rule sends its packets (docs/steering.md).
struct Steer {
    enum class To { xsk, cpu };
    To to = To::xsk;
    std::optional<__u32> cpu;  // to: cpu -- pinned to this CPU; none: spread by flow hash

    __u32 encode() const;      // xdpd_fw_entry.steer (XDPD_STEER_*)
    std::string describe() const;  // "to xsk", "to cpu", "to cpu 3"
};

struct Rule {
    std::string id;       // stable name: user-given, or derived from the content
    Action action = Action::deny;
    Match match;
    std::string limit;                // allow and steer rules: the rate-limit profile's name
    std::optional<__u32> limit_index; // its index in the profile list
    Steer steer;                      // steer rules: where to
    std::string origin;   // "file:line" where the rule was written, for messages

    std::string describe() const;  // one line, e.g. "deny tcp dst 10.0.0.0/8 dport 22"
};

struct RuleSet {
    std::vector<Rule> rules;
    Action default_action = Action::allow;
};

}  // namespace xdpd::fw
