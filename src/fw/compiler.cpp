#include "fw/compiler.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

namespace xdpd::fw {
namespace {

using KeyBytes = std::string;  // the raw bytes of an xdpd_fw_key

KeyBytes bytes_of(const xdpd_fw_key& k) {
    return KeyBytes(reinterpret_cast<const char*>(&k), sizeof k);
}

void set_prefix(__u32* value_words, __u32* mask_words, const Cidr& c) {
    auto* v = reinterpret_cast<uint8_t*>(value_words);
    auto* m = reinterpret_cast<uint8_t*>(mask_words);
    int bytes = c.family == 4 ? 4 : 16;
    for (int i = 0; i < bytes; ++i) {
        int keep = std::clamp(c.prefix - i * 8, 0, 8);
        m[i] = keep ? uint8_t(0xff << (8 - keep)) : 0;
        v[i] = c.addr[i] & m[i];
    }
}

__u8 proto_class(uint8_t proto) {
    switch (proto) {
    case IPPROTO_TCP: return XDPD_PC_TCP;
    case IPPROTO_UDP: return XDPD_PC_UDP;
    case IPPROTO_ICMP: return XDPD_PC_ICMP;
    case IPPROTO_ICMPV6: return XDPD_PC_ICMPV6;
    default: return XDPD_PC_OTHER;
    }
}

uint16_t port_mask(int plen) { return plen ? uint16_t(0xffff << (16 - plen)) : 0; }

struct Shape {
    xdpd_fw_key value{}, mask{};
};

// The (value, mask) keys one rule expands to: one per (sport prefix, dport prefix).
std::vector<Shape> expand(const Rule& r) {
    const Match& m = r.match;
    Shape base;
    if (auto fam = m.implied_family()) {
        base.mask.family = 0xff;
        base.value.family = __u8(*fam);
    }
    if (m.src) set_prefix(base.value.src, base.mask.src, *m.src);
    if (m.dst) set_prefix(base.value.dst, base.mask.dst, *m.dst);
    if (m.proto) {
        base.mask.proto = 0xff;
        base.value.proto = *m.proto;
    }
    if (m.tcp_flags) {
        base.mask.tcp_flags = m.tcp_flags->mask;
        base.value.tcp_flags = m.tcp_flags->value;
    }
    if (m.vlan) {
        base.mask.vlan = 0x0fff;
        base.value.vlan = *m.vlan;
    }
    if (m.ifindex) {
        base.mask.ifindex = 0xffffffff;
        base.value.ifindex = *m.ifindex;
    }
    if (m.has_l4()) base.mask.flags = XDPD_FWK_F_FRAG;  // value 0: not a non-first fragment

    std::vector<std::pair<uint16_t, int>> sp{{0, 0}}, dp{{0, 0}};
    if (m.sport) sp = range_to_prefixes(m.sport->lo, m.sport->hi);
    if (m.dport) dp = range_to_prefixes(m.dport->lo, m.dport->hi);
    if (m.icmp_type) sp = {{*m.icmp_type, 16}};
    if (m.icmp_code) dp = {{*m.icmp_code, 16}};

    std::vector<Shape> out;
    out.reserve(sp.size() * dp.size());
    for (auto [sv, sl] : sp)
        for (auto [dv, dl] : dp) {
            Shape s = base;
            s.mask.sport = port_mask(sl);
            s.value.sport = sv & s.mask.sport;
            s.mask.dport = port_mask(dl);
            s.value.dport = dv & s.mask.dport;
            out.push_back(s);
        }
    return out;
}

}  // namespace

std::vector<std::pair<uint16_t, int>> range_to_prefixes(uint16_t lo16, uint16_t hi16) {
    std::vector<std::pair<uint16_t, int>> out;
    uint32_t lo = lo16, hi = hi16;
    while (lo <= hi) {
        int bits = 0;
        while (bits < 16 && (lo & ((2u << bits) - 1)) == 0 && lo + (2u << bits) - 1 <= hi) ++bits;
        out.emplace_back(uint16_t(lo), 16 - bits);
        lo += 1u << bits;
    }
    return out;
}

CompiledRuleSet compile(const RuleSet& rs, const std::vector<__u32>& slots) {
    if (rs.rules.size() > XDPD_FW_MAX_RULES)
        throw CompileError(fmt::format("{} rules given; the data plane holds at most {} ({})",
                                       rs.rules.size(), XDPD_FW_MAX_RULES,
                                       rs.rules[XDPD_FW_MAX_RULES].origin));
    CompiledRuleSet out;
    out.default_action = rs.default_action == Action::deny ? XDPD_FW_DENY : XDPD_FW_ALLOW;

    std::map<KeyBytes, __u32> tuple_of_mask;          // mask -> provisional tuple index
    std::vector<xdpd_fw_tuple> tuples;
    std::unordered_map<KeyBytes, size_t> entry_of_key;  // masked key (with tuple) -> entries index
    const size_t max_entries = XDPD_FW_MAX_ENTRIES / 2;   // one generation

    for (size_t i = 0; i < rs.rules.size(); ++i) {
        const Rule& r = rs.rules[i];
        const xdpd_fw_ref ref{__u32(i), slots.empty() ? __u32(i + 1) : slots.at(i)};
        bool reached = false;
        for (const Shape& s : expand(r)) {
            KeyBytes mk = bytes_of(s.mask);
            auto [it, fresh] = tuple_of_mask.try_emplace(mk, __u32(tuples.size()));
            if (fresh) {
                if (tuples.size() == XDPD_FW_MAX_TUPLES)
                    throw CompileError(fmt::format(
                        "{}: rule '{}' needs a new match shape, but the rule set already uses "
                        "all {}; rules with the same fields, prefix lengths and port prefixes "
                        "share a shape (port ranges split into prefixes)",
                        r.origin, r.describe(), XDPD_FW_MAX_TUPLES));
                xdpd_fw_tuple t{};
                t.mask = s.mask;
                t.min_prio = XDPD_FW_PRIO_NONE;

                tuples.push_back(t);
            }
            xdpd_fw_key key = s.value;
            key.tuple = __u16(it->second);
            auto [eit, new_entry] = entry_of_key.try_emplace(bytes_of(key), out.entries.size());
            if (new_entry) {
                if (out.entries.size() == max_entries)
                    throw CompileError(fmt::format(
                        "{}: rule '{}' expands the rule set past {} classifier entries",
                        r.origin, r.describe(), max_entries));
                CompiledEntry e{};
                e.key = key;
                e.value.rule.prio = XDPD_FW_PRIO_NONE;
                out.entries.push_back(e);
            }
            xdpd_fw_entry& e = out.entries[eit->second].value;
            if (e.rule.prio != XDPD_FW_PRIO_NONE) continue;  // shadowed by an earlier rule
            reached = true;
            xdpd_fw_tuple& t = tuples[it->second];
            t.min_prio = std::min(t.min_prio, ref.prio);
            t.families |= !s.mask.family ? XDPD_FAM_V4 | XDPD_FAM_V6
                                         : s.value.family == 6 ? XDPD_FAM_V6 : XDPD_FAM_V4;
            t.protos |= !s.mask.proto ? XDPD_PC_ANY : proto_class(s.value.proto);
            if (r.action == Action::count) {
                if (e.n_count < XDPD_FW_COUNT_CHAIN)
                    e.count[e.n_count++] = ref;
                else
                    out.warnings.push_back(fmt::format(
                        "{}: count rule '{}' overlaps more than {} other count rules; some "
                        "packets it matches are not counted",
                        r.origin, r.describe(), XDPD_FW_COUNT_CHAIN));
            } else {
                e.rule = ref;
                e.action = r.action == Action::deny ? XDPD_FW_DENY : XDPD_FW_ALLOW;
                e.limit = r.action != Action::deny && r.limit_index ? *r.limit_index + 1 : 0;
                e.steer = r.action == Action::steer ? r.steer.encode() : XDPD_STEER_NONE;
            }
        }
        if (!reached)
            out.warnings.push_back(fmt::format(
                "{}: rule '{}' is never reached: earlier rules with the same match cover it",
                r.origin, r.describe()));
    }

    // Sort tuples by their best rule so the data plane can stop scanning early.
    std::vector<__u32> order(tuples.size());
    for (__u32 i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](__u32 a, __u32 b) { return tuples[a].min_prio < tuples[b].min_prio; });
    std::vector<__u16> new_index(tuples.size());
    for (__u32 i = 0; i < order.size(); ++i) {
        new_index[order[i]] = __u16(i);
        out.tuples.push_back(tuples[order[i]]);
    }
    for (auto& e : out.entries) e.key.tuple = new_index[e.key.tuple];
    return out;
}

}  // namespace xdpd::fw
