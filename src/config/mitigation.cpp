// The `mitigation` section: what the daemon watches (destination prefixes),
// when it calls a rate an attack (thresholds), and what it does then (actions).
#include <fmt/format.h>

#include <set>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config {

Thresholds MitigationConfig::thresholds_of(size_t watch) const {
    Thresholds t = watches.at(watch).thresholds;
    const Thresholds& d = thresholds;
    for (auto [field, fallback] : {std::pair{&t.pps, &d.pps}, {&t.bps, &d.bps}, {&t.syn_pps, &d.syn_pps},
                                   {&t.udp_pps, &d.udp_pps}, {&t.icmp_pps, &d.icmp_pps},
                                   {&t.sources, &d.sources}})
        if (!*field) *field = *fallback;
    return t;
}

MitigationActions MitigationConfig::actions_of(size_t watch) const {
    MitigationActions a = watches.at(watch).actions;
    const MitigationActions& d = actions;
    if (!a.limit) {
        a.limit = d.limit;
        a.limit_index = d.limit_index;
    }
    if (!a.syncookies) a.syncookies = d.syncookies;
    if (!a.ban_top) a.ban_top = d.ban_top;
    if (!a.ban_over_pps) a.ban_over_pps = d.ban_over_pps;
    if (!a.ban_for) a.ban_for = d.ban_for;
    return a;
}

namespace detail {
namespace {

constexpr std::string_view kKeys[] = {"enabled", "smoothing", "cooldown", "sample", "hook",
                                      "thresholds", "actions", "watch"};
constexpr std::string_view kThresholdKeys[] = {"pps", "bps", "syn_pps", "udp_pps", "icmp_pps", "sources"};
constexpr std::string_view kActionKeys[] = {"limit", "syncookies", "ban"};
constexpr std::string_view kBanKeys[] = {"top", "over_pps", "duration"};
constexpr std::string_view kWatchKeys[] = {"name", "prefixes", "thresholds", "actions"};

std::optional<std::chrono::seconds> read_duration(const Field& f, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) rep.error(f.value, fmt::format("{} '{}' is not a positive duration (e.g. 5s, 10m, 1h)", f.key, *s));
    return d;
}

std::optional<double> read_rate(const Field& f, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    auto v = parse_si(*s);
    if (!v) rep.error(f.value, fmt::format("{} must be a positive number (suffixes k, M, G), got '{}'", f.key, *s));
    return v;
}

void read_thresholds(const YAML::Node& node, Thresholds& t, Reporter& rep) {
    MapReader m(node, "threshold", "thresholds", kThresholdKeys, rep);
    if (!m.is_map()) return;
    for (auto [key, dst] : {std::pair{"pps", &t.pps}, {"bps", &t.bps}, {"syn_pps", &t.syn_pps},
                            {"udp_pps", &t.udp_pps}, {"icmp_pps", &t.icmp_pps}, {"sources", &t.sources}})
        if (const Field* f = m.find(key)) *dst = read_rate(*f, rep);
}

void read_actions(const YAML::Node& node, MitigationActions& a, Reporter& rep) {
    MapReader m(node, "action", "actions", kActionKeys, rep);
    if (!m.is_map()) return;
    if (const Field* f = m.find("limit")) a.limit = read_scalar(*f, rep);
    if (const Field* f = m.find("syncookies")) a.syncookies = read_bool(*f, rep);
    if (const Field* f = m.find("ban")) {
        MapReader b(f->value, "ban", "ban", kBanKeys, rep);
        if (!b.is_map()) return;
        if (const Field* t = b.find("top"))
            if (auto v = read_uint(*t, 0, 1000, rep)) a.ban_top = unsigned(*v);
        if (const Field* t = b.find("over_pps")) a.ban_over_pps = read_rate(*t, rep);
        if (const Field* t = b.find("duration")) a.ban_for = read_duration(*t, rep);
        if (!b.find("over_pps"))
            rep.error(f->value, "ban needs over_pps: only sources sending more than this are banned");
    }
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 32) return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

}  // namespace

void parse_mitigation(const YAML::Node& node, MitigationConfig& out, Reporter& rep) {
    const size_t errors_before = rep.error_count();
    MapReader m(node, "mitigation", "mitigation", kKeys, rep);
    if (!m.is_map()) return;
    out.enabled = true;
    out.origin = rep.origin(node);
    out.watches.push_back({.name = "default", .origin = out.origin});
    if (const Field* f = m.find("enabled"))
        if (auto b = read_bool(*f, rep)) out.enabled = *b;
    if (const Field* f = m.find("smoothing"))
        if (auto d = read_duration(*f, rep)) out.smoothing = *d;
    if (const Field* f = m.find("cooldown"))
        if (auto d = read_duration(*f, rep)) out.cooldown = *d;
    if (const Field* f = m.find("sample"))
        if (auto v = read_uint(*f, 1, 65536, rep)) {
            if (*v & (*v - 1))
                rep.error(f->value, fmt::format("sample must be a power of two (1, 2, 4 ... 65536), got {}", *v));
            else
                out.sample = unsigned(*v);
        }
    if (const Field* f = m.find("hook"))
        if (auto s = read_scalar(*f, rep)) out.hook = *s;
    if (const Field* f = m.find("thresholds")) read_thresholds(f->value, out.thresholds, rep);
    if (const Field* f = m.find("actions")) read_actions(f->value, out.actions, rep);

    size_t n_prefixes = 0;
    if (const Field* f = m.find("watch")) {
        if (!f->value.IsSequence()) {
            rep.error(f->value, fmt::format("watch must be a list of {{name, prefixes, thresholds, actions}}, got {}",
                                            describe(f->value)));
            return;
        }
        std::set<std::string> names{"default"};
        for (const auto& item : f->value) {
            MapReader w(item, "watch", "a watch", kWatchKeys, rep);
            if (!w.is_map()) continue;
            WatchConfig wc;
            wc.origin = rep.origin(item);
            if (const Field* n = w.find("name")) {
                if (auto s = read_scalar(*n, rep)) {
                    wc.name = *s;
                    if (!valid_name(wc.name))
                        rep.error(n->value, fmt::format("watch name '{}' must be 1-32 letters, digits, '-', '_' or '.'", wc.name));
                    else if (!names.insert(wc.name).second)
                        rep.error(n->value, wc.name == "default"
                                                ? std::string("'default' is the watch of all other destinations; pick another name")
                                                : fmt::format("watch '{}' is defined twice", wc.name));
                }
            } else {
                rep.error(item, "a watch needs a name (it names the watch in events and `xdpd mitigation`)");
            }
            const Field* p = w.find("prefixes");
            if (!p || !p->value.IsSequence() || p->value.size() == 0) {
                rep.error(p ? p->value : item, "a watch needs prefixes: a non-empty list of destination prefixes");
            } else {
                for (const auto& pn : p->value) {
                    std::string why;
                    auto c = pn.IsScalar() ? fw::Cidr::parse(pn.Scalar(), &why) : std::nullopt;
                    if (!c)
                        rep.error(pn, fmt::format("prefix: {}", pn.IsScalar() ? why : "must be an address or prefix"));
                    else
                        wc.prefixes.push_back(*c);
                }
                n_prefixes += wc.prefixes.size();
            }
            if (const Field* t = w.find("thresholds")) read_thresholds(t->value, wc.thresholds, rep);
            if (const Field* a = w.find("actions")) read_actions(a->value, wc.actions, rep);
            out.watches.push_back(std::move(wc));
        }
        if (out.watches.size() > XDPD_MAX_WATCHES)
            rep.error(f->value, fmt::format("{} watches, at most {}", out.watches.size() - 1, XDPD_MAX_WATCHES - 1));
        if (n_prefixes > XDPD_MAX_WATCH_PREFIXES)
            rep.error(f->value, fmt::format("{} watch prefixes, at most {}", n_prefixes, XDPD_MAX_WATCH_PREFIXES));
    }
    if (!out.enabled) return;
    bool any = false;
    for (size_t i = 0; i < out.watches.size(); ++i) {
        if (out.thresholds_of(i).any())
            any = true;
        else if (i > 0)
            rep.warning(node, fmt::format("watch '{}' has no thresholds (and mitigation.thresholds "
                                                   "sets none): it is counted but never mitigated",
                                                   out.watches[i].name));
    }
    if (!any && rep.error_count() == errors_before)  // else a threshold may just be misspelt
        rep.error(node, "mitigation sets no thresholds: give mitigation.thresholds (pps, bps, syn_pps, "
                        "udp_pps, icmp_pps, sources) or thresholds per watch");
}

void resolve_mitigation(const YAML::Node& root, Config& cfg, Reporter& rep) {
    auto& mc = cfg.mitigation;
    bool cookies_switched = false;
    for (size_t i = 0; mc.enabled && i < mc.watches.size(); ++i)
        cookies_switched |= mc.actions_of(i).syncookies.value_or(false);
    if (cfg.syncookies.enabled && cfg.syncookies.automatic && !cookies_switched)
        rep.warning(root["syncookies"], "syncookies.mode is auto, but no mitigation action switches them on "
                                        "(actions: {syncookies: true}): XDP never answers a SYN");
    if (!mc.enabled) return;
    const YAML::Node node = root["mitigation"];
    auto resolve = [&](MitigationActions& a, const std::string& where) {
        if (a.limit) {
            const auto& profiles = cfg.shield.limits;
            for (size_t p = 0; p < profiles.size(); ++p)
                if (profiles[p].name == *a.limit) a.limit_index = __u32(p);
            if (!a.limit_index) {
                std::vector<std::string_view> names;
                for (const auto& p : profiles) names.push_back(p.name);
                std::string msg = fmt::format("{}: no limit profile '{}' in shield.limits", where, *a.limit);
                if (auto c = closest(*a.limit, names)) msg += fmt::format(" (did you mean '{}'?)", *c);
                rep.error(node, msg);
            }
        }
        if (a.syncookies.value_or(false)) {
            if (!cfg.syncookies.enabled)
                rep.error(node, fmt::format("{}: syncookies: true needs a syncookies section with the ports "
                                            "to protect and mode: auto",
                                            where));
            else if (!cfg.syncookies.automatic)
                rep.warning(node, fmt::format("{}: syncookies: true does nothing, syncookies.mode is always "
                                              "(set mode: auto to switch them on only under attack)",
                                              where));
        }
    };
    resolve(mc.actions, "mitigation.actions");
    for (auto& w : mc.watches) resolve(w.actions, fmt::format("watch '{}' ({}) actions", w.name, w.origin));
}

}  // namespace detail
}  // namespace xdpd::config
