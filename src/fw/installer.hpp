// Installs a rule set into the data plane atomically: the compiled tables go
// into the idle generation, then one store flips xdpd_runtime.active_gen.
// Counter slots follow rules by identity, so counters survive reloads.
#pragma once
#include <string>
#include <vector>

#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "fw/compiler.hpp"

namespace xdpd::fw {

// The maps the firewall uses, by role.
struct FirewallMaps {
    bpf::MapRef runtime, tuples, entries, bloom, rule_stats, slots;

    // Takes each map by its name in bpf/maps.h from `get` (a pipeline, or pins).
    template <typename Get>
    static FirewallMaps from(Get&& get) {
        return {get("xdpd_runtime"), get("xdpd_fw_tuples"), get("xdpd_fw_entries"),
                get("xdpd_fw_bloom"), get("xdpd_rule_stats"), get("xdpd_fw_slots")};
    }
};

struct InstallReport {
    size_t rules = 0, tuples = 0, entries = 0;
    __u32 generation = 0;
    std::vector<std::string> warnings;
};

struct RuleCounter {
    std::string id;
    Action action;
    __u32 slot;
    xdpd_counter total;  // summed over CPUs
};

class Installer {
public:
    explicit Installer(const FirewallMaps& maps);

    // Compiles (throws CompileError without touching the data plane), then swaps.
    InstallReport install(const RuleSet& rs);
    void set_monitor(bool on);
    bool monitor() const;
    __u32 active_generation() const;

    // Hit counters of the rules of the last install(), in rule order.
    std::vector<RuleCounter> counters() const;
    // The rule set of the last install().
    const RuleSet& installed() const { return installed_; }

    // The stable identity of each rule: its id, or its text; repeats get "#n".
    static std::vector<std::string> fingerprints(const RuleSet& rs);

private:
    struct Slots {
        std::vector<__u32> of_rule;  // counter slot of each rule
        std::vector<__u64> gone;     // fingerprints of removed rules, freed after the swap
    };
    Slots assign_slots(const std::vector<std::string>& fps);
    void clear_generation(__u32 gen);

    const FirewallMaps& maps_;
    bpf::RuntimeView rt_;
    bpf::MappedArray bloom_;
    RuleSet installed_;
    std::vector<__u32> installed_slots_;
};

}  // namespace xdpd::fw
