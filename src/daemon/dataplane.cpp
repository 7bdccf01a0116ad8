#include "daemon/dataplane.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "attach/xdp_link.hpp"
#include "bpf/pipeline.hpp"
#include "daemon/synproxy.hpp"
#include "shield/limits.hpp"
#include "pkt/packet_builder.hpp"
#include "bpf/test_run.hpp"
#include "stats/names.hpp"
#include "stats/snapshot.hpp"
#include "steer/cpus.hpp"
#include "steer/xsk_map.hpp"
#include "util/error.hpp"

namespace xdpd::daemon {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLinkPrefix = "link-";

int interface_mtu(const std::string& name) {
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (!s || ioctl(s.get(), SIOCGIFMTU, &ifr) < 0) return 1500;
    return ifr.ifr_mtu;
}

attach::Mode to_attach_mode(config::AttachMode m) {
    switch (m) {
    case config::AttachMode::native: return attach::Mode::native;
    case config::AttachMode::skb: return attach::Mode::skb;
    case config::AttachMode::hw: return attach::Mode::hw;
    case config::AttachMode::automatic: return attach::Mode::automatic;
    }
    return attach::Mode::automatic;
}

// memlock of a BPF object, from /proc/self/fdinfo.
__u64 memlock_of(int fd) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("memlock:", 0) == 0) return std::stoull(line.substr(8));
    return 0;
}

// What an LPM trie really takes for n entries (see status()).
__u64 lpm_trie_bytes(const bpf_map_info& info, __u64 n) {
    const __u64 node = 24 /* struct lpm_trie_node, Linux 6.x */ + (info.key_size - 4) + info.value_size;
    __u64 slab = 8;
    while (slab < node) slab = slab < 64 ? slab * 2 : slab == 64 ? 96 : slab == 96 ? 128 : slab == 128 ? 192 : slab * 2;
    return 2 * n * slab;
}

std::string read_sysctl(const std::string& path) {
    std::ifstream in(path);
    std::string v;
    in >> v;
    return v;
}

// The balancer routes with the kernel's tables (bpf_fib_lookup), which answer
// only where the interface forwards.
std::vector<std::string> lb_forwarding_warnings(const config::Config& cfg) {
    std::vector<std::string> out;
    bool v4 = false, v6 = false;
    for (const auto& s : cfg.lb.services) (s.vip.family == 4 ? v4 : v6) = true;
    for (const auto& ic : cfg.interfaces)
        if (v4 && read_sysctl("/proc/sys/net/ipv4/conf/" + ic.name + "/forwarding") == "0")
            out.push_back(fmt::format("lb: IPv4 forwarding is off on {}: packets to IPv4 VIPs are dropped "
                                      "(no_route) until `sysctl -w net.ipv4.conf.{}.forwarding=1`", ic.name, ic.name));
    if (v6 && read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding") == "0")
        out.push_back("lb: IPv6 forwarding is off: packets to IPv6 VIPs are dropped (no_route) until "
                      "`sysctl -w net.ipv6.conf.all.forwarding=1`");
    return out;
}

}  // namespace

void ensure_bpffs(const std::string& dir) {
    struct statfs st {};
    if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type != BPF_FS_MAGIC) {
        if (mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0)
            throw SysError("mount bpffs at /sys/fs/bpf (is this root?)", errno);
        spdlog::warn("mounted a new bpffs at /sys/fs/bpf. If this process runs in a private mount "
                     "namespace (e.g. under `ip netns exec`), its pins vanish when it exits and the "
                     "data plane is detached with them; run `xdpd --netns NAME ...` instead");
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw SysError("create pin directory " + dir, ec.value());
    if (statfs(dir.c_str(), &st) != 0 || st.f_type != BPF_FS_MAGIC)
        throw std::runtime_error(dir + " is not on a bpffs mount; daemon.bpffs must be below /sys/fs/bpf");
}

DataPlane::DataPlane(std::string pin_dir) : dir_(std::move(pin_dir)) {
    if (exists()) open_maps();
}

DataPlane::~DataPlane() = default;

bool DataPlane::exists() const { return access((dir_ + "/xdpd_runtime").c_str(), F_OK) == 0; }

bpf::MapRef DataPlane::pinned(const std::string& name) const {
    auto it = maps_.find(name);
    if (it == maps_.end()) throw std::runtime_error("no data plane pinned at " + dir_ + " (is xdpd running?)");
    return bpf::MapRef(it->second.fd(), name);
}

void DataPlane::open_maps() {
    if (!maps_.empty()) return;
    for (const auto& name : bpf::shared_map_names())
        maps_.emplace(name, bpf::MapRef::open_pinned(dir_ + "/" + name, name));
    fw_maps_ = std::make_unique<fw::FirewallMaps>(
        fw::FirewallMaps::from([this](const std::string& n) { return pinned(n); }));
    installer_ = std::make_unique<fw::Installer>(*fw_maps_);
    lists_ = std::make_unique<shield::Lists>(maps_.at("xdpd_bans"), maps_.at("xdpd_allow"),
                                             maps_.at("xdpd_runtime"));
}

shield::Lists& DataPlane::lists() const {
    if (!lists_) throw std::runtime_error("no data plane pinned at " + dir_ + " (is xdpd running?)");
    return *lists_;
}

namespace {
fw::Cidr parse_prefix(const std::string& text) {
    std::string why;
    auto c = fw::Cidr::parse(text, &why);
    if (!c) throw std::runtime_error(why);
    return *c;
}
}  // namespace

void DataPlane::apply_shield(const config::ShieldConfig& cfg) {
    // The config owns the entries it made; entries made through the API or by
    // automatic mitigation are left alone.
    std::set<std::string> want_allow, want_bans;
    for (const auto& a : cfg.allow) want_allow.insert(a.str());
    for (const auto& b : cfg.bans) want_bans.insert(b.prefix.str());
    for (const auto& a : lists_->allowed())
        if (a.origin == XDPD_ORIGIN_CONFIG && !want_allow.count(a.prefix.str())) lists_->disallow(a.prefix);
    for (const auto& a : cfg.allow) lists_->allow(a, XDPD_ORIGIN_CONFIG);

    std::set<std::string> have_config_bans;
    for (const auto& b : lists_->bans()) {
        if (b.origin != XDPD_ORIGIN_CONFIG) continue;
        if (want_bans.count(b.prefix.str()))
            have_config_bans.insert(b.prefix.str());
        else
            lists_->unban(b.prefix);
    }
    for (const auto& b : cfg.bans)
        if (!have_config_bans.count(b.prefix.str()))  // a config ban's time runs from its first apply
            lists_->ban(b.prefix, b.duration, b.reason.empty() ? b.origin : b.reason, XDPD_ORIGIN_CONFIG);
}

void DataPlane::ban(const std::string& prefix, std::optional<std::chrono::seconds> duration,
                    const std::string& reason, xdpd_origin origin) {
    if (reason.size() >= sizeof(xdpd_ban::reason))
        throw std::runtime_error(fmt::format("reason is {} characters, at most {}", reason.size(),
                                             sizeof(xdpd_ban::reason) - 1));
    lists().ban(parse_prefix(prefix), duration, reason, origin);
}

bool DataPlane::unban(const std::string& prefix) { return lists().unban(parse_prefix(prefix)); }
void DataPlane::allow(const std::string& prefix) { lists().allow(parse_prefix(prefix), XDPD_ORIGIN_API); }
bool DataPlane::disallow(const std::string& prefix) { return lists().disallow(parse_prefix(prefix)); }

nlohmann::json DataPlane::bans() const {
    nlohmann::json out = nlohmann::json::array();
    const __u64 now = lists().now_ns();
    for (const auto& b : lists().bans()) {
        nlohmann::json j = {{"prefix", b.prefix.str()}, {"hits", b.hits}, {"reason", b.reason},
                            {"origin", shield::to_string(b.origin)},
                            {"age_s", double(now - b.created_ns) / 1e9}};
        if (b.expires_ns)
            j["remaining_s"] = b.expires_ns > now ? double(b.expires_ns - now) / 1e9 : 0.0;
        else
            j["remaining_s"] = nullptr;  // until removed
        out.push_back(j);
    }
    return out;
}

std::vector<DataPlane::MapInfo> DataPlane::map_info() const {
    std::vector<MapInfo> out;
    for (const auto& [name, m] : maps_) {
        bpf_map_info info{};
        __u32 len = sizeof info;
        if (bpf_obj_get_info_by_fd(m.fd(), &info, &len)) continue;
        out.push_back({name, info.max_entries, memlock_of(m.fd())});
    }
    return out;
}

std::map<std::string, uint64_t> DataPlane::ban_counts() const {
    std::map<std::string, uint64_t> out;
    for (auto o : {XDPD_ORIGIN_CONFIG, XDPD_ORIGIN_API, XDPD_ORIGIN_AUTO}) out[shield::to_string(o)] = 0;
    if (!lists_) return out;
    const auto& n = lists_->ban_counts();
    for (size_t o = 0; o < n.size(); ++o) out[shield::to_string(xdpd_origin(o))] = n[o];
    return out;
}

nlohmann::json DataPlane::allowed() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : lists().allowed())
        out.push_back({{"prefix", a.prefix.str()}, {"hits", a.hits}, {"origin", shield::to_string(a.origin)}});
    return out;
}

std::vector<shield::Ban> DataPlane::expire_bans() { return lists_ ? lists_->expire() : std::vector<shield::Ban>{}; }

ApplyReport DataPlane::apply(const config::Config& cfg, bool replace_foreign) {
    ApplyReport report;

    // 1. Everything that can fail without touching the data plane.
    struct Target {
        const config::InterfaceConfig* conf;
        int ifindex;
        bpf::PipelineConfig pc;
    };
    std::vector<Target> targets;
    std::map<std::string, __u32> ifindex_of;
    for (const auto& ic : cfg.interfaces) {
        unsigned idx = if_nametoindex(ic.name.c_str());
        if (!idx)
            throw std::runtime_error(fmt::format("{}: interface {} does not exist in this network namespace",
                                                 ic.origin, ic.name));
        ifindex_of[ic.name] = idx;
        bpf::PipelineConfig pc;
        pc.firewall = cfg.firewall_enabled;
        pc.malformed_action = cfg.malformed_action;
        pc.multibuf = interface_mtu(ic.name) > 1500;
        pc.shield = cfg.shield.enabled;
        for (const auto& r : cfg.rules.rules) pc.ratelimit |= r.limit_index.has_value();
        pc.watch = cfg.mitigation.enabled;
        pc.lb = cfg.lb.enabled;
        pc.lb_nat = cfg.lb.enabled && cfg.lb.any_nat();
        pc.steer = cfg.firewall_enabled && config::SteerConfig::any(cfg.rules);
        pc.steer_no_socket = cfg.steer.no_socket;
        for (size_t w = 0; pc.watch && w < cfg.mitigation.watches.size(); ++w)
            pc.ratelimit |= cfg.mitigation.actions_of(w).limit_index.has_value();
        if (cfg.syncookies.enabled) {
            pc.syncookie_auto = cfg.syncookies.automatic;
            pc.syncookie_ports = {cfg.syncookies.ports.begin(), cfg.syncookies.ports.end()};
            pc.syncookie_mss4 = cfg.syncookies.mss;
            pc.syncookie_mss6 = cfg.syncookies.mss6;
            pc.syncookie_wscale = cfg.syncookies.wscale;
            pc.syncookie_ttl = cfg.syncookies.ttl;
        }
        targets.push_back({&ic, int(idx), pc});
    }
    fw::RuleSet rules = cfg.rules;
    for (auto& r : rules.rules)
        if (r.match.iface) r.match.ifindex = ifindex_of.at(*r.match.iface);
    fw::compile(rules);  // throws CompileError naming the rule

    ensure_bpffs(dir_);

    // 2. Interface slots: kept from the registry, new ones take a free slot.
    std::map<std::string, __u32> slot_of;
    std::set<__u32> used;
    if (exists()) {
        open_maps();
        bpf::Map<__u32, xdpd_iface> reg(maps_.at("xdpd_ifaces"));
        for (__u32 s = 0; s < XDPD_MAX_IFACES; ++s)
            if (auto e = reg.lookup(s); e && e->ifindex) {
                std::string name(e->name, strnlen(e->name, sizeof e->name));
                if (ifindex_of.count(name) && !slot_of.count(name)) {
                    slot_of[name] = s;
                    used.insert(s);
                }
            }
    }
    for (auto& t : targets) {
        if (!slot_of.count(t.conf->name)) {
            __u32 s = 0;
            while (used.count(s)) ++s;
            if (s >= XDPD_MAX_IFACES)
                throw std::runtime_error(fmt::format("more than {} interfaces", XDPD_MAX_IFACES));
            slot_of[t.conf->name] = s;
            used.insert(s);
        }
        t.pc.ifslot = slot_of[t.conf->name];
    }

    // 3. Load every program instance before touching any interface: a verifier
    //    rejection leaves the running programs in place.
    std::vector<bpf::Pipeline> progs;
    for (auto& t : targets) progs.push_back(bpf::Pipeline::load_pinned(t.pc, dir_));
    open_maps();

    // 3b. SYN cookies: SYNPROXY must be in place before XDP answers SYNs.
    if (cfg.syncookies.enabled) {
        SynproxySettings sp{.ports = cfg.syncookies.ports, .interfaces = {}, .mss4 = cfg.syncookies.mss,
                            .mss6 = cfg.syncookies.mss6, .wscale = cfg.syncookies.wscale};
        for (const auto& ic : cfg.interfaces) sp.interfaces.push_back(ic.name);
        report.notes.push_back(synproxy_apply(sp));
    }

    // Profiles before the programs that use them. (A profile edited in place
    // applies to the running rule set at once: profiles are not versioned.)
    shield::install_limits(maps_.at("xdpd_limits"), cfg.shield.limits);

    // CPU steering: CPUMAP entries and the spread list, before the programs
    // that redirect to them; none while no rule steers to a CPU.
    {
        bool to_cpu = false;
        for (const auto& r : cfg.rules.rules)
            to_cpu |= r.action == fw::Action::steer && r.steer.to == fw::Steer::To::cpu;
        const std::vector<__u32> none;
        for (auto& n : steer::install_cpus(maps_.at("xdpd_cpus"), maps_.at("xdpd_steer"),
                                           to_cpu && cfg.firewall_enabled ? cfg.steer.cpus : none,
                                           cfg.steer.queue_size))
            report.notes.push_back(std::move(n));
    }

    // 4. Swap programs in (atomically where a link exists), register interfaces.
    bpf::Map<__u32, xdpd_iface> reg(maps_.at("xdpd_ifaces"));
    for (size_t i = 0; i < targets.size(); ++i) {
        const auto& t = targets[i];
        const std::string pin = dir_ + "/" + kLinkPrefix + t.conf->name;
        auto link = attach::XdpLink::open_pinned(pin);
        std::string note;
        if (link && int(link->ifindex()) == t.ifindex) {
            link->update(progs[i].prog_fd());
            note = fmt::format("{}: program swapped (link {}, {} mode)", t.conf->name, link->link_id(),
                               attach::mode_name(link->mode()));
        } else {
            if (link) link->detach();  // the interface it held is gone
            link = attach::XdpLink::create(progs[i].prog_fd(), t.ifindex, t.conf->name,
                                           to_attach_mode(t.conf->mode), pin, replace_foreign, &note);
            note = fmt::format("{}: attached in {} mode (link {}){}", t.conf->name,
                               attach::mode_name(link->mode()), link->link_id(),
                               note.empty() ? "" : "; " + note);
        }
        xdpd_iface e{};
        e.ifindex = __u32(t.ifindex);
        e.mode = link->mode();
        std::strncpy(e.name, t.conf->name.c_str(), sizeof e.name - 1);
        auto old = reg.lookup(t.pc.ifslot);
        e.attached_at = old && old->ifindex == e.ifindex ? old->attached_at : __u64(time(nullptr));
        reg.update(t.pc.ifslot, e);
        report.notes.push_back(note);
    }

    // 5. Interfaces no longer configured: detach and free their slots.
    for (const auto& entry : fs::directory_iterator(dir_)) {
        std::string fname = entry.path().filename();
        if (fname.rfind(kLinkPrefix, 0) != 0) continue;
        std::string name = fname.substr(std::strlen(kLinkPrefix));
        if (ifindex_of.count(name)) continue;
        if (auto link = attach::XdpLink::open_pinned(entry.path())) link->detach();
        for (__u32 s = 0; s < XDPD_MAX_IFACES; ++s)
            if (auto e = reg.lookup(s); e && std::string(e->name) == name) {
                reg.update(s, xdpd_iface{});
                bpf::PerCpuMap<__u32, xdpd_if_stats>(maps_.at("xdpd_stats")).zero(s);
                // Its AF_XDP sockets are bound to the interface that left:
                // the slot's next interface must not redirect to them.
                bpf::Map<__u32, __u32> xsks(maps_.at("xdpd_xsks"));
                for (__u32 q = 0; q < XDPD_XSK_MAX_QUEUES; ++q) xsks.erase(XDPD_XSK_INDEX(s, q));
            }
        report.notes.push_back(name + ": detached (no longer configured)");
    }

    // 5b. SYN cookies off: no program answers SYNs any more, SYNPROXY can go.
    if (!cfg.syncookies.enabled)
        if (auto note = synproxy_remove()) report.notes.push_back(*note);

    // 5c. Load balancer: services, backends, rings (and their removal).
    lb_ifindexes_.clear();
    for (const auto& t : targets) lb_ifindexes_.push_back(__u32(t.ifindex));
    if (!lb_) lb_ = std::make_unique<lb::Installer>([this](const std::string& n) { return pinned(n); });
    for (auto& n : lb_->apply(cfg.lb, lb_ifindexes_, lb_state_)) report.notes.push_back(std::move(n));
    if (cfg.lb.enabled && !targets.empty()) {
        lb_probe_cfg_ = targets.front().pc;
        lb_probe_cfg_.lb_probe = true;
        lb_probe_ifindex_ = __u32(targets.front().ifindex);
        lb_probe_.reset();  // loaded at the first lookup
        for (auto& w : lb_forwarding_warnings(cfg)) report.warnings.push_back(std::move(w));
    }

    // 6. Rules, lists and switches.
    report.rules = installer_->install(rules);
    apply_shield(cfg.shield);
    installer_->set_monitor(cfg.monitor);
    report.warnings.insert(report.warnings.end(), report.rules.warnings.begin(), report.rules.warnings.end());
    last_install_ = report.rules;
    applied_ = cfg;
    return report;
}

void DataPlane::set_monitor(bool on) {
    if (!installer_) throw std::runtime_error("no data plane pinned at " + dir_);
    installer_->set_monitor(on);
}

std::vector<std::string> DataPlane::detach_all() {
    std::vector<std::string> notes;
    if (!fs::exists(dir_)) return notes;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        std::string fname = entry.path().filename();
        if (fname.rfind(kLinkPrefix, 0) != 0) continue;
        if (auto link = attach::XdpLink::open_pinned(entry.path())) {
            link->detach();
            notes.push_back(fname.substr(std::strlen(kLinkPrefix)) + ": detached");
        }
    }
    if (auto note = synproxy_remove()) notes.push_back(*note);
    lists_.reset();
    installer_.reset();
    lb_probe_.reset();
    lb_.reset();
    fw_maps_.reset();
    maps_.clear();
    for (const auto& name : bpf::shared_map_names()) unlink((dir_ + "/" + name).c_str());
    if (rmdir(dir_.c_str()) != 0 && errno != ENOENT)
        notes.push_back(fmt::format("left {} in place: {}", dir_, std::strerror(errno)));
    applied_.reset();
    return notes;
}

nlohmann::json DataPlane::interfaces() const {
    nlohmann::json out = nlohmann::json::array();
    if (maps_.empty()) return out;
    bpf::Map<__u32, xdpd_iface> reg(maps_.at("xdpd_ifaces"));
    for (__u32 s = 0; s < XDPD_MAX_IFACES; ++s) {
        auto e = reg.lookup(s);
        if (!e || !e->ifindex) continue;
        std::string name(e->name, strnlen(e->name, sizeof e->name));
        nlohmann::json ji = {{"name", name}, {"ifindex", e->ifindex}, {"slot", s},
                             {"attached_at", e->attached_at}};
        try {
            if (auto link = attach::XdpLink::open_pinned(dir_ + "/" + kLinkPrefix + name)) {
                ji["mode"] = attach::mode_name(link->mode());
                ji["prog_id"] = link->prog_id();
                ji["link_id"] = link->link_id();
                ji["attached"] = link->ifindex() != 0;
            }
        } catch (const std::exception& ex) {
            ji["error"] = ex.what();
        }
        out.push_back(ji);
    }
    return out;
}

nlohmann::json DataPlane::status() const {
    nlohmann::json j;
    j["bpffs"] = dir_;
    j["interfaces"] = nlohmann::json::array();
    if (!exists() || maps_.empty()) {
        j["running"] = false;
        return j;
    }
    j["interfaces"] = interfaces();
    // Entries in use: the runtime counts the tries' entries; LRU tables are
    // counted (batch reads, a fraction of a second at 1M entries).
    bpf::RuntimeView rt(maps_.at("xdpd_runtime"));
    const std::map<std::string, __u64> in_use = {
        {"xdpd_bans", rt.load(rt->n_bans)},
        {"xdpd_allow", rt.load(rt->n_allow)},
        {"xdpd_watch_prefixes", rt.load(rt->n_watch_prefixes)},
        {"xdpd_buckets", bpf::count_entries(maps_.at("xdpd_buckets"))},
        {"xdpd_watch_sources", bpf::count_entries(maps_.at("xdpd_watch_sources"))},
        {"xdpd_lb_flows", bpf::count_entries(maps_.at("xdpd_lb_flows"))}};
    j["maps"] = nlohmann::json::array();
    __u64 total = 0, estimate_total = 0;
    for (const auto& [name, m] : maps_) {
        bpf_map_info info{};
        __u32 len = sizeof info;
        if (bpf_obj_get_info_by_fd(m.fd(), &info, &len)) continue;
        const __u64 mem = memlock_of(m.fd());
        nlohmann::json jm = {{"name", name}, {"id", info.id}, {"max_entries", info.max_entries},
                             {"key_size", info.key_size}, {"value_size", info.value_size},
                             {"memlock_bytes", mem}};
        __u64 real = mem;
        if (auto it = in_use.find(name); it != in_use.end()) {
            jm["entries"] = it->second;
            if (info.type == BPF_MAP_TYPE_LPM_TRIE) {
                // The kernel's memlock counts one node per entry at its exact
                // size; the trie allocates about two (leaf and intermediate),
                // each rounded up to its slab size (measured: docs/benchmarks.md).
                real = lpm_trie_bytes(info, it->second);
                jm["memory_estimate_bytes"] = real;
                jm["memory_estimate_full_bytes"] = lpm_trie_bytes(info, info.max_entries);
            }
        }
        total += mem;
        estimate_total += std::max(real, mem);
        j["maps"].push_back(jm);
    }
    j["memlock_bytes"] = total;
    j["memory_estimate_bytes"] = estimate_total;
    if (lists_) {
        j["shield"] = {{"bans", rt.load(rt->n_bans)}, {"allow", rt.load(rt->n_allow)}};
        const auto snap = stats::read(pinned("xdpd_ifaces"), pinned("xdpd_stats"));
        auto reason = [&](xdpd_reason r) {
            __u64 n = 0;
            for (const auto& i : snap.ifaces) n += xdpd_reason_total(i.total, r).packets;
            return n;
        };
        j["limiter"] = {{"buckets", in_use.at("xdpd_buckets")},
                        {"buckets_max", XDPD_MAX_BUCKETS},
                        {"dropped", {{"per_source", reason(XDPD_R_RATE_SOURCE)},
                                     {"per_prefix", reason(XDPD_R_RATE_PREFIX)},
                                     {"per_destination", reason(XDPD_R_RATE_DEST)}}}};
        j["syncookies"] = {{"sent", reason(XDPD_R_SYNCOOKIE_SENT)},
                           {"validated", reason(XDPD_R_SYNCOOKIE_OK)},
                           {"failed", reason(XDPD_R_SYNCOOKIE_BAD)}};
        {
            const auto services = lb_status();
            size_t backends = 0, up = 0, drained = 0;
            for (const auto& sv : services)
                for (const auto& b : sv["backends"]) {
                    ++backends;
                    up += b["health"] == "up";
                    drained += b["weight"] == 0;
                }
            j["lb"] = {{"enabled", applied_ && applied_->lb.enabled}, {"services", services.size()},
                       {"backends", backends}, {"up", up}, {"down", backends - up}, {"drained", drained},
                       {"flows", in_use.at("xdpd_lb_flows")}, {"flows_max", XDPD_LB_MAX_FLOWS},
                       {"forwarded", reason(XDPD_R_LB_FORWARD)}, {"replies", reason(XDPD_R_LB_REPLY)},
                       {"no_backend", reason(XDPD_R_LB_NO_BACKEND)}, {"no_route", reason(XDPD_R_LB_NO_ROUTE)}};
        }
        {
            // For AF_XDP applications: where to put a socket (XDPD_XSK_INDEX
            // of interfaces[].slot and the RX queue), and what steering did.
            nlohmann::json cpus = nlohmann::json::array();
            bpf::PerCpuMap<__u32, xdpd_counter> per_target(maps_.at("xdpd_steer_cpu_stats"));
            bpf::Map<__u32, bpf_cpumap_val> cpumap(maps_.at("xdpd_cpus"));
            for (__u32 c = 0; c < __u32(std::min(bpf::possible_cpus(), XDPD_MAX_CPUS)); ++c) {
                std::optional<bpf_cpumap_val> e;
                try {
                    e = cpumap.lookup(c);
                } catch (const std::exception&) {
                }
                if (!e) continue;
                __u64 packets = 0;
                for (const auto& v : per_target.lookup_all(c)) packets += v.packets;
                cpus.push_back({{"cpu", c}, {"queue_size", e->qsize}, {"packets", packets}});
            }
            bool on = false;
            if (applied_) on = applied_->firewall_enabled && config::SteerConfig::any(applied_->rules);
            j["steer"] = {{"enabled", on},
                          {"xsk_map", steer::xsk_map_path(dir_)},
                          {"xsk_max_queues", XDPD_XSK_MAX_QUEUES},
                          {"xsk_index", "slot * xsk_max_queues + rx_queue"},
                          {"meta_size", XDPD_XSK_META_SIZE},
                          {"meta_version", XDPD_XSK_META_VERSION},
                          {"cpus", cpus},
                          {"to_xsk", reason(XDPD_R_STEER_XSK)},
                          {"to_xsk_no_meta", reason(XDPD_R_STEER_NO_META)},
                          {"no_socket", reason(XDPD_R_STEER_NO_SOCKET)},
                          {"to_cpu", reason(XDPD_R_STEER_CPU)},
                          {"no_cpu", reason(XDPD_R_STEER_NO_CPU)}};
            if (applied_) {
                j["steer"]["no_socket_action"] = applied_->steer.no_socket == XDPD_ACT_DROP ? "drop" : "pass";
                j["steer"]["spread_cpus"] = applied_->steer.cpus;
            }
        }
        if (applied_) {
            j["shield"]["enabled"] = applied_->shield.enabled;
            nlohmann::json limits = nlohmann::json::array();
            for (const auto& p : applied_->shield.limits) limits.push_back(p.name);
            j["limiter"]["profiles"] = limits;
            const auto& sc = applied_->syncookies;
            j["syncookies"]["enabled"] = sc.enabled;
            j["syncookies"]["mode"] = sc.automatic ? "auto" : "always";
            j["syncookies"]["ports"] = sc.ports;
        }
    }
    if (installer_) {
        j["firewall"] = {{"monitor", installer_->monitor()},
                         {"generation", installer_->active_generation()}};
        if (applied_) {
            j["firewall"]["enabled"] = applied_->firewall_enabled;
            j["firewall"]["rules"] = last_install_.rules;
            j["firewall"]["tuples"] = last_install_.tuples;
            j["firewall"]["entries"] = last_install_.entries;
            j["firewall"]["default"] = fw::to_string(applied_->rules.default_action);
            j["config"] = applied_->path;
        }
    }
    j["running"] = true;
    return j;
}

nlohmann::json DataPlane::stats() const {
    return stats::to_json(stats::read(pinned("xdpd_ifaces"), pinned("xdpd_stats")));
}

std::vector<fw::RuleCounter> DataPlane::rule_counters() const {
    return installer_ ? installer_->counters() : std::vector<fw::RuleCounter>{};
}

nlohmann::json DataPlane::rules() const {
    nlohmann::json out = nlohmann::json::array();
    if (!installer_) return out;
    const auto& rules = installer_->installed().rules;
    const auto counters = installer_->counters();
    for (size_t i = 0; i < counters.size(); ++i) {
        const auto& c = counters[i];
        out.push_back({{"id", c.id}, {"rule", rules[i].describe()}, {"action", fw::to_string(c.action)},
                       {"slot", c.slot}, {"packets", c.total.packets}, {"bytes", c.total.bytes}});
    }
    return out;
}

std::vector<std::string> DataPlane::lb_refresh() {
    if (!lb_ || !applied_) return {};
    return lb_->apply(applied_->lb, lb_ifindexes_, lb_state_);
}

nlohmann::json DataPlane::lb_status() const {
    if (!lb_ || !applied_) return nlohmann::json::array();
    return lb_->status(applied_->lb, lb_state_);
}

nlohmann::json DataPlane::lb_lookup(const std::string& proto, const std::string& src, uint16_t sport,
                                    const std::string& dst, uint16_t dport) {
    if (!lb_ || !applied_ || !applied_->lb.enabled) throw std::runtime_error("no load balancer is configured");
    if (proto != "tcp" && proto != "udp") throw std::runtime_error("proto must be tcp or udp, not '" + proto + "'");
    const bool v6 = src.find(':') != std::string::npos;
    if (v6 != (dst.find(':') != std::string::npos))
        throw std::runtime_error("source and destination must both be IPv4 or both IPv6");
    if (!lb_probe_) lb_probe_ = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load_pinned(lb_probe_cfg_, dir_));

    // A mid-flow packet (ACK, not SYN: a SYN would re-hash) from the client.
    pkt::PacketBuilder b;
    b.eth({0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2});
    if (v6) b.ipv6(src, dst); else b.ipv4(src, dst);
    if (proto == "tcp") b.tcp(sport, dport, pkt::kAck); else b.udp(sport, dport);
    b.payload(16);
    const bpf::MapRef probe_map = lb_probe_->map("xdpd_lb_probe");
    bpf::Map<__u32, xdpd_lb_probe> probe(probe_map);
    const __u32 seq = probe.lookup(0).value_or(xdpd_lb_probe{}).seq;
    const auto r = bpf::test_run(lb_probe_->prog_fd(), b.build(), {.ingress_ifindex = lb_probe_ifindex_});
    const auto p = probe.lookup(0).value_or(xdpd_lb_probe{});

    nlohmann::json j = {{"flow", fmt::format("{} {} {} -> {} {}", proto, src, sport, dst, dport)},
                        {"verdict", r.action < stats::kActionNames.size() ? std::string(stats::kActionNames[r.action])
                                                                          : std::to_string(r.action)}};
    if (p.seq == seq) {
        j["service"] = nullptr;
        j["note"] = "not to a VIP: the load balancer leaves it alone";
        return j;
    }
    for (const auto& s : lb::effective(applied_->lb, lb_state_).services) {
        for (const auto& be : s.backends)
            if (lb_->slot_of(s, be) == int(p.backend)) {
                j["service"] = s.name;
                j["backend"] = be.id();
            }
    }
    if (p.backend == ~0u) j["backend"] = nullptr;
    j["from"] = p.table_hit ? "connection table" : "ring (new flow)";
    j["slot"] = p.backend == ~0u ? nlohmann::json(nullptr) : nlohmann::json(p.backend);
    return j;
}

}  // namespace xdpd::daemon
