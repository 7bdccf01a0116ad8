// Names of every counter the data plane keeps, as shown by `xdpd stats` and
// the API. One table per enum of xdpd/abi.h; a unit test checks they cover it.
#pragma once
#include <array>
#include <string_view>

#include "xdpd/abi.h"

namespace xdpd::stats {

inline constexpr std::array<std::string_view, XDPD_ACT_MAX> kActionNames = {
    "aborted", "drop", "pass", "tx", "redirect"};

inline constexpr std::array<std::string_view, XDPD_R_MAX> kReasonNames = {
    "no_firewall",     "non_ip",          "fw_allow",       "fw_deny",
    "fw_monitor",      "default_allow",   "default_deny",   "default_monitor",
    "trunc_eth",       "trunc_vlan",      "vlan_depth",     "trunc_ipv4",
    "bad_ipv4",        "trunc_ipv6",      "bad_ipv6",       "trunc_ipv6_ext",
    "ipv6_ext_depth",  "trunc_tcp",       "bad_tcp",        "trunc_udp",
    "trunc_icmp",      "banned",          "syncookie_sent", "syncookie_ok",
    "syncookie_bad",   "rate_source",     "rate_prefix",    "rate_dest",
    "lb_forward",      "lb_reply",        "lb_icmp_echo",   "lb_icmp_error",
    "lb_neigh_pass",   "lb_no_backend",   "lb_no_route",    "lb_oversized",
    "lb_fragment",     "lb_ttl",          "steer_xsk",      "steer_no_socket",
    "steer_no_meta",   "steer_cpu",       "steer_no_cpu"};
static_assert(XDPD_R_MAX <= XDPD_R_SLOTS && XDPD_ACT_MAX <= XDPD_ACT_SLOTS && XDPD_L3_MAX <= XDPD_L3_SLOTS &&
                  XDPD_L4_MAX <= XDPD_L4_SLOTS,
              "xdpd_if_stats has no counter slot for every value");

// Verdict slots of a reason's counters (XDPD_VERDICT_SLOT).
inline constexpr std::array<std::string_view, XDPD_VERDICTS> kVerdictNames = {"drop", "pass", "tx", "redirect"};

inline constexpr std::array<std::string_view, XDPD_L3_MAX> kL3Names = {"ipv4", "ipv6", "arp", "other"};

inline constexpr std::array<std::string_view, XDPD_L4_MAX> kL4Names = {
    "tcp", "udp", "icmp", "icmpv6", "fragment", "other", "none"};

inline bool is_malformed(int reason) {
    return reason >= XDPD_R_MALFORMED_FIRST && reason <= XDPD_R_MALFORMED_LAST;
}

}  // namespace xdpd::stats
