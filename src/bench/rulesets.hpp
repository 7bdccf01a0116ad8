// Rule sets for benchmarks.
//
// make_ruleset(n): a realistic firewall of n rules whose match shapes are a
// FIXED set (kShapeFamilies), whatever n is: 10, 1,000 and 10,000 rules differ
// only in how many entries each shape holds. Tuple space search promises a cost
// that follows the number of shapes, not of rules; this is the rule set that
// checks the promise.
//
// make_xdp_filter_ruleset(n): what xdp-filter can express (exact addresses and
// ports, OR-ed): n deny rules, exact IPv4 source addresses plus a few ports,
// with its xdpd translation for an apples-to-apples comparison.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fw/rule.hpp"

namespace xdpd::bench {

// The packets the benchmark sends (see packets.hpp) and the addresses the
// generators avoid or use, so that the two stay consistent.
//   miss: src 198.51.100.7:40000 -> dst 203.0.113.10:443, TCP ACK. Matched by
//         no rule of either generator: it walks every tuple to the default.
//   hit:  the same from src kFirstBlockedHost, denied by rule 0 of both.
inline constexpr const char* kMissSrc = "198.51.100.7";
inline constexpr const char* kMissDst = "203.0.113.10";
inline constexpr uint16_t kMissSport = 40000, kMissDport = 443;
inline constexpr const char* kFirstBlockedHost = "100.64.0.1";

// One family of rules that share a match shape.
struct ShapeFamily {
    const char* name;     // "deny src /32"
    unsigned weight;      // share of the rules, in percent
};
// The shapes make_ruleset uses, in rule order. Weights sum to 100.
const std::vector<ShapeFamily>& shape_families();

struct RuleSetOptions {
    fw::Action default_action = fw::Action::allow;
};

// n_rules >= shape_families().size() gives every shape at least one rule (so
// the shape count is the same for every such n); smaller n uses fewer shapes.
fw::RuleSet make_ruleset(size_t n_rules, const RuleSetOptions& opts = {});

// How many rules of each family make_ruleset(n) produces.
std::vector<size_t> family_sizes(size_t n_rules);

// xdp-filter's model: OR of exact matches, all deny (policy allow).
struct XdpFilterRuleSet {
    std::vector<std::string> src_ipv4;  // `xdp-filter ip ADDR -m src`
    std::vector<uint16_t> ports;        // `xdp-filter port PORT` (dst, tcp+udp)
    size_t size() const { return src_ipv4.size() + ports.size(); }
};

// n rules: kXdpFilterPorts ports (fewer when n < 2 * kXdpFilterPorts) and
// n - ports source addresses, the first being kFirstBlockedHost. xdp-filter's
// filter_ipv4 map holds 10,000 addresses: n <= 10,000 + kXdpFilterPorts.
inline constexpr size_t kXdpFilterPorts = 3;
XdpFilterRuleSet make_xdp_filter_ruleset(size_t n_rules);

// The same filter as xdpd rules: deny src /32 per address, deny tcp dport P
// and deny udp dport P per port (so ports count twice in xdpd rules).
fw::RuleSet to_xdpd(const XdpFilterRuleSet& xf);

// The i-th address of the blocklist both generators draw from (i = 0:
// kFirstBlockedHost), dotted quad.
std::string blocked_host(size_t i);

}  // namespace xdpd::bench
