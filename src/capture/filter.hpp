// The capture filter: `xdpd capture`'s filter options -> struct
// xdpd_capture_filter (include/xdpd/abi.h), which the data plane applies to
// every packet after its verdict. Every parse error says what was wrong and
// what is valid; they are thrown as FilterError.
#pragma once
#include <linux/types.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "xdpd/abi.h"

namespace xdpd::capture {

class FilterError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The options as typed; empty = any. Interface and rule are names the caller
// resolves (they need the data plane or the daemon): ifindex and rule here.
struct FilterOptions {
    std::string verdicts;  // "drop,pass": aborted drop pass tx redirect
    std::string reasons;   // "fw_deny,trunc_tcp" (names of `xdpd stats`), or "malformed"
    std::string host;      // CIDR: source or destination inside it
    std::string src, dst;  // CIDR
    std::string proto;     // tcp udp icmp icmpv6, or a number 1-255
    std::string port, sport, dport;  // 1-65535
    __u32 ifindex = 0;     // resolved interface; 0 = any
    __u32 rule = 0;        // firewall rule counter slot + 1; 0 = any
};

struct Prefix {
    int family = 0;        // 4 or 6
    __u32 addr[4] = {};    // network order, IPv4 in [0], host bits cleared
    __u8 len = 0;
};

__u32 parse_verdicts(std::string_view list);  // bit per XDP action
__u64 parse_reasons(std::string_view list);   // bit per enum xdpd_reason
Prefix parse_prefix(std::string_view text, std::string_view option);  // "10.0.0.0/23", "2001:db8::1"
__u8 parse_proto(std::string_view text);
__u16 parse_port(std::string_view text, std::string_view option);

xdpd_capture_filter parse_filter(const FilterOptions& o);

// "verdict=drop reason=fw_deny host=10.0.0.0/8 proto=tcp port=22", or "all packets".
std::string describe(const xdpd_capture_filter& f);

}  // namespace xdpd::capture
