#include "lb/installer.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "bpf/runtime.hpp"
#include "lb/maglev.hpp"
#include "util/error.hpp"

namespace xdpd::lb {

std::string backend_key(const config::LbServiceConfig& s, const config::LbBackendConfig& b) {
    return s.name + "/" + b.id();
}

config::LbConfig effective(const config::LbConfig& cfg, const LbState& state) {
    config::LbConfig out = cfg;
    for (auto& s : out.services) {
        std::erase_if(s.backends, [&](const auto& b) { return state.removed.count(backend_key(s, b)) > 0; });
        if (auto it = state.added.find(s.name); it != state.added.end())
            for (const auto& b : it->second)  // unless a reload put it in the config meanwhile
                if (std::none_of(s.backends.begin(), s.backends.end(), [&](const auto& x) { return x.id() == b.id(); }))
                    s.backends.push_back(b);
    }
    return out;
}

namespace {

xdpd_lb_vip_key vip_key(const config::LbServiceConfig& s) {
    xdpd_lb_vip_key k{};
    std::memcpy(k.addr, s.vip.addr.data(), 16);
    k.port = s.port;
    k.proto = s.proto;
    k.family = __u8(s.vip.family);
    return k;
}

xdpd_lb_vip_key addr_key(const config::LbServiceConfig& s) {
    xdpd_lb_vip_key k = vip_key(s);
    k.port = 0;
    k.proto = 0;
    return k;
}


struct KeyLess {
    bool operator()(const xdpd_lb_vip_key& a, const xdpd_lb_vip_key& b) const {
        return std::memcmp(&a, &b, sizeof a) < 0;
    }
};
struct NatLess {
    bool operator()(const xdpd_lb_nat_key& a, const xdpd_lb_nat_key& b) const {
        return std::memcmp(&a, &b, sizeof a) < 0;
    }
};

// "10.99.0.1", "fd99::1": a VIP without its /32, /128.
std::string host(const fw::Cidr& c) {
    const std::string t = c.str();
    return t.substr(0, t.find('/'));
}

unsigned weight_of(const config::LbServiceConfig& s, const config::LbBackendConfig& b, const LbState& st) {
    auto it = st.weights.find(backend_key(s, b));
    return it != st.weights.end() ? it->second : b.weight;
}

}  // namespace

struct Installer::Impl {
    MapFn maps;
    bpf::MapRef vips, backends, nat, runtime, vip_stats, backend_stats, devmap, rings_ref;
    bpf::MappedArray rings;
    // (vip index, backend id) -> slot, as last applied or read back.
    std::map<std::pair<__u32, std::string>, __u32> slots;
    std::map<std::string, __u32> vip_index;  // service name -> index

    explicit Impl(MapFn m)
        : maps(std::move(m)), vips(maps("xdpd_lb_vips")), backends(maps("xdpd_lb_backends")),
          nat(maps("xdpd_lb_nat")), runtime(maps("xdpd_lb_runtime")), vip_stats(maps("xdpd_lb_vip_stats")),
          backend_stats(maps("xdpd_lb_backend_stats")), devmap(maps("xdpd_lb_devmap")),
          rings_ref(maps("xdpd_lb_rings")), rings(rings_ref) {}

    // An array map keeps each value in 8 bytes (its element size is the value
    // size rounded up to 8): entry j of a ring is the low word of element j.
    static constexpr size_t kStride = 2;
    __u32* ring(__u32 index) const {
        return static_cast<__u32*>(rings.data()) + size_t(index) * XDPD_LB_RING_SIZE * kStride;
    }
};

Installer::Installer(MapFn maps) : impl_(std::make_unique<Impl>(std::move(maps))) {}
Installer::~Installer() = default;

std::vector<std::string> Installer::apply(const config::LbConfig& config_lb, const std::vector<__u32>& ifindexes,
                                          const LbState& state) {
    const config::LbConfig cfg = effective(config_lb, state);
    std::vector<std::string> notes;
    Impl& m = *impl_;
    bpf::Map<xdpd_lb_vip_key, xdpd_lb_vip> vips(m.vips);
    bpf::Map<__u32, xdpd_lb_backend> backends(m.backends);
    bpf::Map<xdpd_lb_nat_key, xdpd_lb_nat> nat(m.nat);
    bpf::PerCpuMap<__u32, xdpd_lb_vip_stats> vstats(m.vip_stats);
    bpf::PerCpuMap<__u32, xdpd_lb_backend_stats> bstats(m.backend_stats);
    const auto& services = cfg.enabled ? cfg.services : std::vector<config::LbServiceConfig>{};

    // 1. VIP indices: kept by key, new services take free ones.
    std::map<xdpd_lb_vip_key, xdpd_lb_vip, KeyLess> have;
    for (const auto& k : vips.keys())
        if (auto v = vips.lookup(k); v && !(v->flags & XDPD_LB_VIP_F_ADDR)) have[k] = *v;
    std::vector<__u32> index(services.size(), ~0u);
    std::set<__u32> used;
    for (size_t i = 0; i < services.size(); ++i)
        if (auto it = have.find(vip_key(services[i])); it != have.end() && it->second.index < XDPD_LB_MAX_VIPS &&
                                                       !used.count(it->second.index)) {
            index[i] = it->second.index;
            used.insert(index[i]);
        }
    for (size_t i = 0; i < services.size(); ++i) {
        if (index[i] != ~0u) continue;
        __u32 x = 0;
        while (used.count(x)) ++x;
        index[i] = x;
        used.insert(x);
        vstats.zero(x);
        notes.push_back(fmt::format("lb: service {} ({} {} {}) added", services[i].name,
                                    services[i].proto == 6 ? "tcp" : "udp", host(services[i].vip),
                                    services[i].port ? std::to_string(services[i].port) : std::string("all ports")));
    }

    // 2. Backend slots: kept by (VIP index, identity); freed slots of other
    //    backends are reused with the next generation.
    std::map<std::pair<__u32, std::string>, __u32> old_slots;
    std::vector<xdpd_lb_backend> table(XDPD_LB_MAX_BACKENDS);
    for (__u32 s = 0; s < XDPD_LB_MAX_BACKENDS; ++s) {
        table[s] = backends.lookup(s).value_or(xdpd_lb_backend{});
        if (!table[s].family) continue;
        config::LbBackendConfig id;
        id.addr.family = table[s].family;
        std::memcpy(id.addr.addr.data(), table[s].addr, 16);
        id.port = table[s].port;
        old_slots[{table[s].vip, id.id()}] = s;
    }
    std::map<std::pair<__u32, std::string>, __u32> slots;
    std::set<__u32> taken;
    for (size_t i = 0; i < services.size(); ++i)
        for (const auto& b : services[i].backends)
            if (auto it = old_slots.find({index[i], b.id()}); it != old_slots.end()) {
                slots[it->first] = it->second;
                taken.insert(it->second);
            }
    // Free slots: never used (or emptied) first, then those of removed backends.
    std::vector<__u32> free_slots;
    for (int pass = 0; pass < 2; ++pass)
        for (__u32 s = 0; s < XDPD_LB_MAX_BACKENDS; ++s)
            if (!taken.count(s) && bool(table[s].family) == bool(pass)) free_slots.push_back(s);
    size_t next_free = 0;
    for (size_t i = 0; i < services.size(); ++i)
        for (const auto& b : services[i].backends) {
            auto k = std::make_pair(index[i], b.id());
            if (slots.count(k)) continue;
            if (next_free >= free_slots.size())
                throw std::runtime_error(fmt::format("lb: more than {} backends", XDPD_LB_MAX_BACKENDS));
            const __u32 slot = free_slots[next_free++];
            slots[k] = slot;
            taken.insert(slot);
            table[slot].gen++;  // a new backend in this slot: flows of the old one re-hash
            table[slot].family = 0;
            bstats.zero(slot);
        }

    // 3. Backend entries, then rings, then VIP entries.
    std::map<xdpd_lb_nat_key, xdpd_lb_nat, NatLess> want_nat;
    std::map<xdpd_lb_vip_key, xdpd_lb_vip, KeyLess> want_vips;
    for (size_t i = 0; i < services.size(); ++i) {
        const auto& s = services[i];
        std::vector<MaglevBackend> ring_members;
        for (const auto& b : s.backends) {
            const __u32 slot = slots.at({index[i], b.id()});
            const bool up = state.healthy(backend_key(s, b));
            xdpd_lb_backend e = table[slot];
            std::memcpy(e.addr, b.addr.addr.data(), 16);
            e.port = b.port;
            e.family = __u8(b.addr.family);
            e.flags = up ? XDPD_LB_BE_UP : 0;
            e.vip = index[i];
            if (std::memcmp(&e, &table[slot], sizeof e) != 0 || !backends.lookup(slot)) backends.update(slot, e);
            table[slot] = e;
            const unsigned w = weight_of(s, b, state);
            if (up && w > 0) ring_members.push_back({b.id(), w, slot});
            if (!s.dsr) {
                xdpd_lb_nat_key nk{};
                std::memcpy(nk.addr, b.addr.addr.data(), 16);
                nk.port = b.port;
                nk.proto = s.proto;
                nk.family = __u8(b.addr.family);
                xdpd_lb_nat nv{};
                std::memcpy(nv.vip_addr, s.vip.addr.data(), 16);
                nv.vip_port = s.port;
                nv.vip = index[i];
                nv.backend = slot;
                want_nat[nk] = nv;
            }
        }
        const auto tbl = maglev_table(ring_members);
        __u32* r = m.ring(index[i]);
        size_t changed = 0;
        for (size_t j = 0; j < tbl.size(); ++j)
            if (r[j * Impl::kStride] != tbl[j]) {
                __atomic_store_n(&r[j * Impl::kStride], tbl[j], __ATOMIC_RELAXED);
                ++changed;
            }
        if (changed && have.count(vip_key(s)))
            notes.push_back(fmt::format("lb: service {}: {} of {} ring entries changed ({} backends in service)",
                                        s.name, changed, tbl.size(), ring_members.size()));
        xdpd_lb_vip v{.index = index[i], .flags = s.dsr ? __u32(XDPD_LB_VIP_F_DSR) : 0u,
                      .n_ring = __u32(ring_members.size()), ._pad = 0};
        want_vips[vip_key(s)] = v;
        const auto ak = addr_key(s);
        if (!want_vips.count(ak)) want_vips[ak] = {.index = index[i], .flags = XDPD_LB_VIP_F_ADDR, .n_ring = 0, ._pad = 0};
    }
    for (const auto& [k, v] : want_vips) {
        auto cur = vips.lookup(k);
        if (!cur || std::memcmp(&*cur, &v, sizeof v) != 0) vips.update(k, v);
    }
    for (const auto& [k, v] : want_nat) nat.update(k, v);

    // 4. Removals: VIPs, NAT keys, backends no longer configured.
    for (const auto& k : vips.keys())
        if (!want_vips.count(k)) {
            if (auto v = vips.lookup(k); v && !(v->flags & XDPD_LB_VIP_F_ADDR))
                notes.push_back(fmt::format("lb: service with VIP index {} removed", v->index));
            vips.erase(k);
        }
    for (const auto& k : nat.keys())
        if (!want_nat.count(k)) nat.erase(k);
    for (const auto& [k, s] : old_slots)
        if (!taken.count(s)) {
            xdpd_lb_backend gone{};
            gone.gen = table[s].gen + 1;
            backends.update(s, gone);
            notes.push_back(fmt::format("lb: backend {} removed (slot {})", k.second, s));
        }

    // 5. Flow settings and egress interfaces.
    bpf::Map<__u32, xdpd_lb_runtime> rt(m.runtime);
    xdpd_lb_runtime r{};
    r.udp_timeout_ns = __u64(cfg.udp_timeout.count()) * 1000000000ull;
    r.new_flow_limit = cfg.new_flow_limit;
    r.all_ports = std::any_of(services.begin(), services.end(), [](const auto& s) { return s.port == 0; });
    rt.update(0, r);
    bpf::Map<__u32, __u32> dev(m.devmap);
    std::set<__u32> want_dev(ifindexes.begin(), ifindexes.end());
    for (const auto& k : dev.keys())
        if (!want_dev.count(k)) dev.erase(k);
    for (__u32 i : want_dev) dev.update(i, i);

    m.slots = slots;
    m.vip_index.clear();
    for (size_t i = 0; i < services.size(); ++i) m.vip_index[services[i].name] = index[i];
    return notes;
}

int Installer::slot_of(const config::LbServiceConfig& s, const config::LbBackendConfig& b) const {
    auto vi = impl_->vip_index.find(s.name);
    if (vi == impl_->vip_index.end()) return -1;
    auto it = impl_->slots.find({vi->second, b.id()});
    return it == impl_->slots.end() ? -1 : int(it->second);
}

nlohmann::json Installer::status(const config::LbConfig& config_lb, const LbState& state) const {
    const config::LbConfig cfg = effective(config_lb, state);
    const Impl& m = *impl_;
    bpf::PerCpuMap<__u32, xdpd_lb_vip_stats> vstats(m.vip_stats);
    bpf::PerCpuMap<__u32, xdpd_lb_backend_stats> bstats(m.backend_stats);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : cfg.services) {
        auto vi = m.vip_index.find(s.name);
        if (vi == m.vip_index.end()) continue;
        xdpd_lb_vip_stats v{};
        for (const auto& c : vstats.lookup_all(vi->second)) {
            v.fwd.packets += c.fwd.packets, v.fwd.bytes += c.fwd.bytes;
            v.reply.packets += c.reply.packets, v.reply.bytes += c.reply.bytes;
            v.new_flows += c.new_flows, v.table_hit += c.table_hit, v.table_miss += c.table_miss;
            v.not_inserted += c.not_inserted, v.no_backend += c.no_backend, v.no_route += c.no_route;
            v.oversized += c.oversized, v.icmp_echo += c.icmp_echo, v.icmp_error += c.icmp_error;
            v.fragments += c.fragments;
        }
        // Ring shares, from the table itself.
        std::map<__u32, size_t> share;
        const __u32* r = m.ring(vi->second);
        for (size_t j = 0; j < XDPD_LB_RING_SIZE; ++j) ++share[r[j * Impl::kStride]];
        nlohmann::json jb = nlohmann::json::array();
        for (const auto& b : s.backends) {
            const int slot = slot_of(s, b);
            xdpd_lb_backend_stats t{};
            if (slot >= 0)
                for (const auto& c : bstats.lookup_all(__u32(slot))) {
                    t.fwd.packets += c.fwd.packets, t.fwd.bytes += c.fwd.bytes;
                    t.reply.packets += c.reply.packets, t.reply.bytes += c.reply.bytes;
                    t.new_flows += c.new_flows;
                }
            const bool up = state.healthy(backend_key(s, b));
            jb.push_back({{"backend", b.id()}, {"slot", slot}, {"weight", weight_of(s, b, state)},
                          {"config_weight", b.weight}, {"health", up ? "up" : "down"},
                          {"ring_share", slot >= 0 ? double(share[__u32(slot)]) / XDPD_LB_RING_SIZE : 0.0},
                          {"packets", t.fwd.packets}, {"bytes", t.fwd.bytes},
                          {"reply_packets", t.reply.packets}, {"reply_bytes", t.reply.bytes},
                          {"new_flows", t.new_flows}});
        }
        out.push_back({{"name", s.name}, {"vip", host(s.vip)}, {"proto", s.proto == 6 ? "tcp" : "udp"},
                       {"port", s.port}, {"mode", s.dsr ? "dsr" : "nat"}, {"index", vi->second},
                       {"packets", v.fwd.packets}, {"bytes", v.fwd.bytes},
                       {"reply_packets", v.reply.packets}, {"reply_bytes", v.reply.bytes},
                       {"new_flows", v.new_flows}, {"table_hit", v.table_hit}, {"table_miss", v.table_miss},
                       {"not_inserted", v.not_inserted}, {"no_backend", v.no_backend}, {"no_route", v.no_route},
                       {"oversized", v.oversized}, {"icmp_echo", v.icmp_echo}, {"icmp_error", v.icmp_error},
                       {"fragments", v.fragments}, {"backends", jb}});
    }
    return out;
}

}  // namespace xdpd::lb
