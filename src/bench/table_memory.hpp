// xdpd-livebench --memory: what the rate-limit bucket table (xdpd_buckets,
// LRU_HASH, XDPD_MAX_BUCKETS entries) and the ban trie (xdpd_bans, LPM_TRIE,
// BPF_F_NO_PREALLOC) cost when full, against what `xdpd status` reports.
//
// The real daemon runs on a scratch veth. The tables are filled from this
// process through their pins with bpf_map_update_batch: distinct per-source
// bucket keys, and distinct /32 bans (written straight into the map, not
// through the API: a million API calls would take minutes; the daemon's
// bookkeeping of them is not exercised). At each step the tool reads `xdpd
// status --json` (memlock per map, from the map fd's fdinfo), the kernel's
// own accounting of kernel memory (/proc/meminfo: VmallocUsed, SUnreclaim,
// Percpu; each reading waits until they stop moving, since maps are freed
// after RCU grace periods), the slab caches that grew (/proc/slabinfo) and the
// number of entries actually in each map.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xdpd::bench {

struct MemoryOptions {
    std::string xdpd_binary;
    uint32_t buckets = 1u << 20;  // entries to insert into xdpd_buckets
    uint32_t bans = 1u << 20;     // /32 bans to insert into xdpd_bans
    bool verbose = true;
};

// One step: the figures read after it.
struct MemoryStep {
    std::string name;                            // "daemon started", "buckets filled", ...
    std::map<std::string, uint64_t> meminfo_kb;  // VmallocUsed, SUnreclaim, Slab, Percpu, MemAvailable
    std::map<std::string, uint64_t> slab_objs;   // /proc/slabinfo: active objects per cache
    std::map<std::string, uint64_t> slab_size;   // and the object size
    std::map<std::string, uint64_t> memlock;     // xdpd status: per map, and "total"
    uint64_t bucket_entries = 0, ban_entries = 0;  // counted by iterating the maps
    double seconds = 0;                          // how long the step's work took
};

struct MemoryReport {
    std::vector<MemoryStep> steps;  // baseline (no daemon), daemon started, buckets filled, bans filled, daemon gone
    nlohmann::json status_maps;     // xdpd status's "maps" after the fill
};

MemoryReport measure_table_memory(const MemoryOptions& o);
std::string render_memory_table(const MemoryReport& r, const MemoryOptions& o);
nlohmann::json render_memory_json(const MemoryReport& r);

}  // namespace xdpd::bench
