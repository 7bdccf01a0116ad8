// DataPlane: everything xdpd keeps in the kernel, under one bpffs directory:
// the shared maps, one pinned XDP link per interface, the rule set. apply()
// reconciles it with a config; it validates everything that can fail first, so
// a bad config leaves the running data plane as it was.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/map.hpp"
#include "bpf/pipeline.hpp"
#include "config/config.hpp"
#include "fw/installer.hpp"
#include "lb/installer.hpp"
#include "shield/lists.hpp"

namespace xdpd::daemon {

struct ApplyReport {
    std::vector<std::string> notes;     // what happened, in words, one per change
    std::vector<std::string> warnings;  // from the rule compiler
    fw::InstallReport rules;
};

class DataPlane {
public:
    // Opens (or prepares) the data plane pinned under pin_dir; mounts bpffs on
    // /sys/fs/bpf when it is missing.
    explicit DataPlane(std::string pin_dir);
    ~DataPlane();

    ApplyReport apply(const config::Config& cfg, bool replace_foreign = false);
    void set_monitor(bool on);

    // Takes every program off its interface and removes every pin. Works on a
    // data plane left behind by a daemon that is gone, too.
    std::vector<std::string> detach_all();

    // Shield lists (API/CLI): prefixes as text ("10.0.0.0/8", "2001:db8::1").
    void ban(const std::string& prefix, std::optional<std::chrono::seconds> duration,
             const std::string& reason, xdpd_origin origin = XDPD_ORIGIN_API);
    bool unban(const std::string& prefix);
    void allow(const std::string& prefix);
    bool disallow(const std::string& prefix);
    nlohmann::json bans() const;     // with remaining seconds and hits
    nlohmann::json allowed() const;
    std::map<std::string, uint64_t> ban_counts() const;  // by origin
    struct MapInfo {
        std::string name;
        uint64_t max_entries = 0, memlock = 0;
    };
    std::vector<MapInfo> map_info() const;  // every pinned map (cheap: no entries read)
    std::vector<shield::Ban> expire_bans();  // removes bans whose time is up

    bool exists() const;  // are there pinned maps?
    nlohmann::json status() const;
    // [{name, ifindex, slot, attached_at, mode, prog_id, link_id, attached}]
    nlohmann::json interfaces() const;
    const std::optional<config::Config>& applied() const { return applied_; }
    nlohmann::json stats() const;
    nlohmann::json rules() const;
    std::vector<fw::RuleCounter> rule_counters() const;  // rules() without the JSON (metrics)

    // Load balancer: live state (health, weight overrides) the daemon keeps,
    // re-applied by lb_refresh() without reloading the config.
    lb::LbState& lb_state() { return lb_state_; }
    std::vector<std::string> lb_refresh();
    nlohmann::json lb_status() const;
    // Which backend the real program picks for this flow (a probe instance
    // of the pipeline runs on a synthetic packet; nothing is inserted or
    // counted). proto: "tcp" or "udp".
    nlohmann::json lb_lookup(const std::string& proto, const std::string& src, uint16_t sport,
                             const std::string& dst, uint16_t dport);

    const std::string& pin_dir() const { return dir_; }
    // A pinned map by name (borrowed fd; valid while this object lives).
    bpf::MapRef pinned(const std::string& name) const;

private:
    void open_maps();
    void apply_shield(const config::ShieldConfig& cfg);

    std::string dir_;
    std::map<std::string, bpf::MapRef> maps_;
    std::unique_ptr<fw::FirewallMaps> fw_maps_;
    std::unique_ptr<fw::Installer> installer_;
    std::unique_ptr<shield::Lists> lists_;
    shield::Lists& lists() const;
    std::optional<config::Config> applied_;
    std::unique_ptr<lb::Installer> lb_;
    lb::LbState lb_state_;
    std::vector<__u32> lb_ifindexes_;
    bpf::PipelineConfig lb_probe_cfg_;
    __u32 lb_probe_ifindex_ = 0;
    std::unique_ptr<bpf::Pipeline> lb_probe_;
    fw::InstallReport last_install_;
};

// Mounts bpffs at /sys/fs/bpf if nothing is mounted there; creates dir.
void ensure_bpffs(const std::string& dir);

}  // namespace xdpd::daemon
