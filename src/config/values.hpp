// Text-level parsers for config values (numbers, port ranges, protocols, ICMP
// type names) and the "did you mean" helper. No YAML here. Internal.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fw/rule.hpp"

namespace xdpd::config::detail {

// Case-insensitive Levenshtein distance.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is within 2 edits (and is not just a
// replacement of a very short word) and no other candidate is as close;
// nullopt otherwise.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates);

// "a, b or c"
std::string join_or(std::span<const std::string_view> words);
// "a, b, c"
std::string join_comma(std::span<const std::string_view> words);

// A decimal number made of digits only ("22", not "+22", "0x16" or "2e1"),
// at most `max`. Nullopt when not a number or above max.
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max = UINT64_MAX);

// "22" or "1024-65535" (blanks around '-' allowed). On failure `why` says
// what is wrong with the text, e.g. "70000 is above 65535".
std::optional<fw::PortRange> parse_port_range(std::string_view text, std::string* why);

// "tcp", "udp", "icmp", "icmpv6" or a number 0-255.
std::optional<uint8_t> parse_proto(std::string_view text);
// Display name of a protocol number: "tcp", ..., or the number.
std::string proto_name(uint8_t proto);

// ICMP (family 4) or ICMPv6 (family 6) type by name ("echo-request").
std::optional<uint8_t> icmp_type_by_name(int family, std::string_view name);
std::span<const std::string_view> icmp_type_names(int family);

// Interface name as the kernel accepts it: 1-15 bytes, not "." or "..", no
// '/', ':' or blanks. On failure `why` says what is wrong.
bool valid_ifname(std::string_view name, std::string* why);

// Rule id: [A-Za-z0-9_.:-]{1,64}.
bool valid_rule_id(std::string_view id);

// "1000", "2.5k", "10M", "1G": a positive number with an SI suffix (x1000).
std::optional<double> parse_si(const std::string& s);


}  // namespace xdpd::config::detail
