// Compiles an ordered rule set into the firewall's tuple-space tables:
// one tuple per distinct match shape, one entry per (tuple, masked key).
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "fw/rule.hpp"
#include "xdpd/abi.h"

namespace xdpd::fw {

struct CompiledEntry {
    xdpd_fw_key key;  // key.tuple = tuple index (the generation bit is added on install)
    xdpd_fw_entry value;
};

struct CompiledRuleSet {
    std::vector<xdpd_fw_tuple> tuples;  // sorted by min_prio; index = tuple id
    std::vector<CompiledEntry> entries;
    __u32 default_action = XDPD_FW_ALLOW;
    std::vector<std::string> warnings;  // rules never reached, count overflow
};

// The rule set does not fit the data plane; names the rule that broke a limit.
class CompileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// slots[i] is the counter slot of rules[i] (see fw/installer); empty: slot = i + 1.
CompiledRuleSet compile(const RuleSet& rs, const std::vector<__u32>& slots = {});

// The prefixes (value, length in bits) that exactly cover [lo, hi] of a 16-bit field.
std::vector<std::pair<uint16_t, int>> range_to_prefixes(uint16_t lo, uint16_t hi);

}  // namespace xdpd::fw
