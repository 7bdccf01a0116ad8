#include "mitigation/watch_maps.hpp"

#include <algorithm>
#include <set>

#include "bpf/runtime.hpp"
#include "shield/lists.hpp"

namespace xdpd::mitigation {

WatchMaps::WatchMaps(const std::function<bpf::MapRef(const std::string&)>& get)
    : prefixes_(get("xdpd_watch_prefixes")), stats_(get("xdpd_watch_stats")), hll_(get("xdpd_watch_hll")),
      state_(get("xdpd_watch")), sources_(get("xdpd_watch_sources")), runtime_(get("xdpd_runtime")) {}

namespace {
bool same_key(const xdpd_lpm_key& a, const xdpd_lpm_key& b) {
    return a.prefixlen == b.prefixlen && std::equal(std::begin(a.addr), std::end(a.addr), std::begin(b.addr));
}
}  // namespace

void WatchMaps::install_prefixes(const std::vector<config::WatchConfig>& watches) {
    bpf::Map<xdpd_lpm_key, __u32> m(prefixes_);
    std::vector<std::pair<xdpd_lpm_key, __u32>> want;
    for (size_t i = 1; i < watches.size(); ++i)
        for (const auto& p : watches[i].prefixes) want.emplace_back(shield::lpm_key(p), __u32(i));
    // New entries first, then stale ones out: a packet never finds a
    // configured destination missing.
    for (const auto& [k, v] : want) m.update(k, v);
    for (const auto& k : m.keys())
        if (std::none_of(want.begin(), want.end(), [&](const auto& w) { return same_key(w.first, k); }))
            m.erase(k);
    bpf::RuntimeView rt(runtime_);
    rt.store(rt->n_watch_prefixes, __u32(want.size()));
}

xdpd_watch_stats WatchMaps::counters(__u32 watch) const {
    xdpd_watch_stats sum{};
    for (const auto& c : bpf::PerCpuMap<__u32, xdpd_watch_stats>(stats_).lookup_all(watch)) {
        for (int p = 0; p < XDPD_WP_MAX; ++p) {
            sum.proto[p].packets += c.proto[p].packets;
            sum.proto[p].bytes += c.proto[p].bytes;
        }
        sum.syn += c.syn;
    }
    return sum;
}

HllRegisters WatchMaps::take_hll(__u32 watch) {
    bpf::PerCpuMap<__u32, xdpd_watch_hll> m(hll_);
    HllRegisters out{};
    for (const auto& c : m.lookup_all(watch))
        for (size_t i = 0; i < out.size(); ++i) out[i] = std::max(out[i], c.reg[i]);
    m.zero(watch);  // what CPUs add between the read and here is lost: an estimate
    return out;
}

xdpd_watch WatchMaps::state(__u32 watch) const {
    return bpf::Map<__u32, xdpd_watch>(state_).lookup(watch).value_or(xdpd_watch{});
}

void WatchMaps::set_state(__u32 watch, const xdpd_watch& s) { bpf::Map<__u32, xdpd_watch>(state_).update(watch, s); }

void WatchMaps::set_tracking(unsigned one_in_n) {
    bpf::RuntimeView rt(runtime_);
    rt.store(rt->track_sources, one_in_n);
}

unsigned WatchMaps::tracking() const {
    bpf::RuntimeView rt(runtime_);
    return rt.load(rt->track_sources);
}

std::vector<SourceCount> WatchMaps::sources(__u32 watch) const {
    bpf::Map<xdpd_source_key, xdpd_source_count> m(sources_);
    std::vector<SourceCount> out;
    for (const auto& k : m.keys()) {
        if (k.watch != watch) continue;
        auto v = m.lookup(k);
        if (!v) continue;  // evicted meanwhile
        xdpd_lpm_key lk{};
        lk.prefixlen = 128;
        std::copy(std::begin(k.addr), std::end(k.addr), std::begin(lk.addr));
        out.push_back({shield::from_lpm_key(lk), v->packets, v->bytes});
    }
    return out;
}

void WatchMaps::clear_sources() {
    bpf::Map<xdpd_source_key, xdpd_source_count> m(sources_);
    for (const auto& k : m.keys()) m.erase(k);
}

}  // namespace xdpd::mitigation
