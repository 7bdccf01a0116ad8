#include "fw/installer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

namespace xdpd::fw {
namespace {

__u64 fnv1a(const std::string& s) {
    __u64 h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

}  // namespace

Installer::Installer(const FirewallMaps& maps)
    : maps_(maps), rt_(maps.runtime), bloom_(maps.bloom) {}

std::vector<std::string> Installer::fingerprints(const RuleSet& rs) {
    std::vector<std::string> out;
    std::unordered_map<std::string, int> seen;
    for (const Rule& r : rs.rules) {
        std::string fp = r.id.empty() ? r.describe() : "id:" + r.id;
        if (int n = seen[fp]++) fp += fmt::format("#{}", n);
        out.push_back(fp);
    }
    return out;
}

Installer::Slots Installer::assign_slots(const std::vector<std::string>& fps) {
    bpf::Map<__u64, __u32> slots(maps_.slots);
    std::unordered_map<__u64, __u32> old;
    for (__u64 k : slots.keys())
        if (auto v = slots.lookup(k)) old[k] = *v;

    Slots out;
    out.of_rule.assign(fps.size(), 0);
    std::set<__u32> taken;  // every slot the running rule set may still count into
    for (auto& [h, slot] : old) taken.insert(slot);
    std::set<__u64> keep;
    for (size_t i = 0; i < fps.size(); ++i) {
        __u64 h = fnv1a(fps[i]);
        if (auto it = old.find(h); it != old.end() && !keep.count(h)) {
            out.of_rule[i] = it->second;
            keep.insert(h);
        }
    }
    for (auto& [h, slot] : old)
        if (!keep.count(h)) out.gone.push_back(h);

    // New rules take slots no rule of the running set holds: the running set
    // keeps counting into its slots until the swap, and a zeroed slot must not
    // pick those hits up. There is room for two full rule sets.
    bpf::PerCpuMap<__u32, xdpd_counter> stats(maps_.rule_stats);
    __u32 next = 1;
    for (size_t i = 0; i < fps.size(); ++i) {
        if (out.of_rule[i]) continue;
        while (taken.count(next)) ++next;
        out.of_rule[i] = next;
        taken.insert(next);
        stats.zero(next);  // a new rule starts from zero
        slots.update(fnv1a(fps[i]), next);
    }
    return out;
}

void Installer::clear_generation(__u32 gen) {
    bpf::Map<xdpd_fw_key, xdpd_fw_entry> entries(maps_.entries);
    for (const auto& k : entries.keys())
        if ((k.tuple >> 15) == gen) entries.erase(k);
}

InstallReport Installer::install(const RuleSet& rs) {
    auto fps = fingerprints(rs);
    // Compile with provisional slots first: a rule set that does not fit must
    // fail before any map is touched.
    CompiledRuleSet c = compile(rs);
    Slots slots = assign_slots(fps);
    c = compile(rs, slots.of_rule);

    const __u32 active = rt_.load(rt_->active_gen) & 1, gen = active ^ 1;
    clear_generation(gen);

    bpf::Map<__u32, xdpd_fw_tuple> tuples(maps_.tuples);
    for (__u32 i = 0; i < c.tuples.size(); ++i) tuples.update(gen * XDPD_FW_MAX_TUPLES + i, c.tuples[i]);

    std::vector<xdpd_fw_key> keys;
    std::vector<xdpd_fw_entry> values;
    keys.reserve(c.entries.size());
    values.reserve(c.entries.size());
    for (const auto& e : c.entries) {
        xdpd_fw_key k = e.key;
        k.tuple = __u16((gen << 15) | k.tuple);
        keys.push_back(k);
        values.push_back(e.value);
    }
    if (!keys.empty()) {
        __u32 count = __u32(keys.size());
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        if (bpf_map_update_batch(maps_.entries.fd(), keys.data(), values.data(), &count, &opts)) {
            bpf::Map<xdpd_fw_key, xdpd_fw_entry> m(maps_.entries);
            for (size_t i = 0; i < keys.size(); ++i) m.update(keys[i], values[i]);
        }
    }

    // The Bloom filter of the idle generation: one bit per entry key.
    auto* words = static_cast<__u64*>(bloom_.data()) + size_t(gen) * XDPD_FW_BLOOM_WORDS;
    std::fill(words, words + XDPD_FW_BLOOM_WORDS, 0);
    for (const auto& k : keys) {
        __u64 h = xdpd_fw_bloom_hash(reinterpret_cast<const __u32*>(&k));
        words[XDPD_FW_BLOOM_WORD(0, h)] |= XDPD_FW_BLOOM_BIT(h);
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);

    xdpd_fw_generation& g = rt_->gen[gen];
    rt_.store(g.n_tuples, __u32(c.tuples.size()));
    rt_.store(g.default_action, c.default_action);
    rt_.store(g.has_rules, c.entries.empty() ? 0 : 1);
    rt_.store(rt_->active_gen, gen);  // the switch: one aligned store

    bpf::wait_for_readers();
    clear_generation(active);
    bpf::Map<__u64, __u32> slot_map(maps_.slots);
    for (__u64 h : slots.gone) slot_map.erase(h);  // their slots are free from now on

    installed_ = rs;
    installed_slots_ = slots.of_rule;
    return InstallReport{rs.rules.size(), c.tuples.size(), c.entries.size(), gen,
                         std::move(c.warnings)};
}

void Installer::set_monitor(bool on) { rt_.store(rt_->monitor, on ? 1 : 0); }
bool Installer::monitor() const { return rt_.load(rt_->monitor) != 0; }
__u32 Installer::active_generation() const { return rt_.load(rt_->active_gen) & 1; }

std::vector<RuleCounter> Installer::counters() const {
    bpf::PerCpuMap<__u32, xdpd_counter> stats(maps_.rule_stats);
    const auto sum = [&](RuleCounter& rc, const xdpd_counter* per_cpu) {
        for (int c = 0; c < stats.cpus(); ++c) {
            rc.total.packets += per_cpu[c].packets;
            rc.total.bytes += per_cpu[c].bytes;
        }
    };
    std::vector<RuleCounter> out;
    out.reserve(installed_.rules.size());
    for (size_t i = 0; i < installed_.rules.size(); ++i)
        out.push_back({installed_.rules[i].id, installed_.rules[i].action, installed_slots_[i], {}});
    // A few rules: a lookup each. Many: the whole array in a few batch reads
    // (10,000 lookups cost a syscall each; the array is ~1 MB).
    constexpr size_t kBatchFrom = 256;
    if (out.size() < kBatchFrom) {
        for (auto& rc : out) sum(rc, stats.lookup_all(rc.slot).data());
        return out;
    }
    std::vector<__u32> rule_of_slot(XDPD_FW_MAX_SLOTS, UINT32_MAX);
    __u32 last = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        rule_of_slot[out[i].slot] = __u32(i);
        last = std::max(last, out[i].slot);
    }
    stats.for_each_index(last, [&](__u32 slot, const xdpd_counter* per_cpu) {
        if (slot < rule_of_slot.size() && rule_of_slot[slot] != UINT32_MAX) sum(out[rule_of_slot[slot]], per_cpu);
    });
    return out;
}

}  // namespace xdpd::fw
