#include "bpf/pipeline.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include "bpf/libbpf_log.hpp"
#include "bpf/load.hpp"
#include "util/fd.hpp"
#include "xdpd.skel.h"

namespace xdpd::bpf {

std::string PipelineConfig::describe() const {
    return fmt::format("slot={} firewall={} shield={} ratelimit={} watch={} lb={} syncookies={} steer={} multibuf={} malformed={}",
                       ifslot, firewall ? "on" : "off", shield ? "on" : "off", ratelimit ? "on" : "off",
                       watch ? "on" : "off", !lb ? "off" : lb_probe ? "probe" : lb_nat ? "nat" : "dsr",
                       syncookie_ports.empty() ? "off"
                                               : fmt::format("{} ports{}", syncookie_ports.size(),
                                                             syncookie_auto ? " (auto)" : ""),
                       !steer ? "off" : steer_no_socket == XDPD_ACT_DROP ? "on (no socket: drop)" : "on",
                       multibuf ? "on" : "off",
                       malformed_action == XDPD_ACT_DROP ? "drop" : "pass");
}

const std::vector<std::string>& shared_map_names() {
    static const std::vector<std::string> names = {
        "xdpd_stats",  "xdpd_runtime",    "xdpd_fw_tuples", "xdpd_fw_entries", "xdpd_fw_bloom",
        "xdpd_rule_stats", "xdpd_ifaces", "xdpd_fw_slots", "xdpd_bans", "xdpd_allow", "xdpd_limits", "xdpd_buckets",
        "xdpd_watch_prefixes", "xdpd_watch_stats", "xdpd_watch_hll", "xdpd_watch", "xdpd_watch_sources",
        "xdpd_lb_vips", "xdpd_lb_rings", "xdpd_lb_backends", "xdpd_lb_nat", "xdpd_lb_flows", "xdpd_lb_runtime",
        "xdpd_lb_vip_stats", "xdpd_lb_backend_stats", "xdpd_lb_devmap",
        "xdpd_observe", "xdpd_observe_cpu", "xdpd_capture_events", "xdpd_top_sources", "xdpd_events",
        "xdpd_xsks", "xdpd_cpus", "xdpd_steer", "xdpd_steer_cpu_stats", "xdpd_steer_xsk_stats"};
    return names;
}

namespace {

std::atomic<uint64_t> load_count{0};

// A map pinned by another xdpd version whose layout differs cannot be shared:
// say so, and what to do, instead of libbpf's "parameter mismatch".
void check_pinned_layout(const bpf_map* m, int pinned_fd, const std::string& path) {
    bpf_map_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(pinned_fd, &info, &len) != 0) return;  // libbpf will say what is wrong
    if (info.type == bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
        info.value_size == bpf_map__value_size(m) && info.max_entries == bpf_map__max_entries(m))
        return;
    throw std::runtime_error(fmt::format(
        "{} was made by another xdpd version with another layout (type {}, key {} B, value {} B, {} entries; "
        "this xdpd needs type {}, key {} B, value {} B, {} entries), so the running data plane cannot be "
        "taken over. `xdpd detach` removes it (its state and counters are lost); then start xdpd again",
        path, info.type, info.key_size, info.value_size, info.max_entries, int(bpf_map__type(m)),
        bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m)));
}

}  // namespace

void Pipeline::SkelDeleter::operator()(xdpd_bpf* s) const { xdpd_bpf__destroy(s); }

Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
Pipeline::~Pipeline() = default;

Pipeline Pipeline::load_pinned(const PipelineConfig& cfg, const std::string& pin_dir) {
    return load_impl(cfg, &pin_dir, nullptr);
}

Pipeline Pipeline::load(const PipelineConfig& cfg, const Pipeline* other) {
    return load_impl(cfg, nullptr, other);
}

Pipeline Pipeline::load_impl(const PipelineConfig& cfg, const std::string* pin_dir,
                             const Pipeline* other) {
    install_libbpf_logger();
    Pipeline p;
    p.cfg_ = cfg;
    p.skel_.reset(xdpd_bpf__open());
    if (!p.skel_) throw SysError("open BPF object xdpd", errno);

    auto& ro = *p.skel_->rodata;
    ro.cfg_ifslot = cfg.ifslot;
    ro.cfg_fw_enabled = cfg.firewall;
    ro.cfg_malformed_action = cfg.malformed_action;
    ro.cfg_multibuf = cfg.multibuf;
    ro.cfg_shield = cfg.shield;
    ro.cfg_ratelimit = cfg.ratelimit;
    ro.cfg_watch = cfg.watch;
    ro.cfg_syncookie_auto = cfg.syncookie_auto;
    ro.cfg_lb = cfg.lb;
    ro.cfg_lb_nat = cfg.lb && cfg.lb_nat;
    ro.cfg_lb_probe = cfg.lb && cfg.lb_probe;
    ro.cfg_observe = cfg.observe;
    ro.cfg_steer = cfg.steer;
    if (cfg.steer_no_socket != XDPD_ACT_PASS && cfg.steer_no_socket != XDPD_ACT_DROP)
        throw std::invalid_argument("steer_no_socket must be XDPD_ACT_PASS or XDPD_ACT_DROP");
    ro.cfg_steer_no_socket = cfg.steer_no_socket;
    if (cfg.syncookie_ports.size() > XDPD_SYNCOOKIE_MAX_PORTS)
        throw std::invalid_argument(fmt::format("SYN cookies protect at most {} ports, got {}",
                                                XDPD_SYNCOOKIE_MAX_PORTS, cfg.syncookie_ports.size()));
    ro.cfg_syncookie = !cfg.syncookie_ports.empty();
    ro.cfg_syncookie_nports = __u32(cfg.syncookie_ports.size());
    for (size_t i = 0; i < cfg.syncookie_ports.size(); ++i) ro.cfg_syncookie_ports[i] = cfg.syncookie_ports[i];
    ro.cfg_syncookie_mss4 = cfg.syncookie_mss4;
    ro.cfg_syncookie_mss6 = cfg.syncookie_mss6;
    ro.cfg_syncookie_wscale = cfg.syncookie_wscale;
    ro.cfg_syncookie_ttl = cfg.syncookie_ttl;

    // A perf buffer has one entry per CPU; say so before a pinned one is
    // compared with it.
    check(bpf_map__set_max_entries(p.skel_->maps.xdpd_capture_events, __u32(possible_cpus())),
          "size map xdpd_capture_events");
    // So does the CPUMAP: the kernel refuses more entries than it has CPU ids
    // (NR_CPUS); XDPD_MAX_CPUS bounds the rest of steering.
    check(bpf_map__set_max_entries(p.skel_->maps.xdpd_cpus, __u32(std::min(possible_cpus(), XDPD_MAX_CPUS))),
          "size map xdpd_cpus");
    for (const auto& name : shared_map_names()) {
        bpf_map* m = bpf_object__find_map_by_name(p.skel_->obj, name.c_str());
        if (!m) throw std::logic_error("BPF object has no map " + name);
        if (pin_dir) {
            std::string path = *pin_dir + "/" + name;
            // The kernel marks every devmap read-only for programs (a flag the
            // object cannot ask for), so libbpf's check of a pinned map's
            // flags never passes for one: adopt it directly.
            if (UniqueFd pinned(bpf_obj_get(path.c_str())); pinned) {
                check_pinned_layout(m, pinned.get(), path);
                if (bpf_map__type(m) == BPF_MAP_TYPE_DEVMAP_HASH) {
                    check(bpf_map__reuse_fd(m, pinned.get()), "reuse pinned map " + path);
                    continue;
                }
            }
            check(bpf_map__set_pin_path(m, path.c_str()), "set pin path of map " + name);
        } else if (other) {
            check(bpf_map__reuse_fd(m, bpf_map__fd(bpf_object__find_map_by_name(
                                           other->skel_->obj, name.c_str()))),
                  "share map " + name);
        }
    }

    load_explained([&] { return xdpd_bpf__load(p.skel_.get()); },
                   pin_dir ? "the xdpd pipeline (maps pinned in " + *pin_dir + ")"
                           : "the xdpd pipeline (unpinned)",
                   cfg.describe());
    load_count.fetch_add(1, std::memory_order_relaxed);
    return p;
}

uint64_t Pipeline::loads() { return load_count.load(std::memory_order_relaxed); }

int Pipeline::prog_fd() const { return bpf_program__fd(skel_->progs.xdpd_pipeline); }

__u32 Pipeline::prog_id() const {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    check(bpf_obj_get_info_by_fd(prog_fd(), &info, &len), "query program xdpd_pipeline");
    return info.id;
}

MapRef Pipeline::map(const std::string& name) const {
    bpf_map* m = bpf_object__find_map_by_name(skel_->obj, name.c_str());
    if (!m) throw std::logic_error("BPF object has no map " + name);
    return MapRef(bpf_map__fd(m), name);
}

}  // namespace xdpd::bpf
