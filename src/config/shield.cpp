// The `shield` section: the allow list and the bans written in the config.
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {
constexpr std::string_view kShieldKeys[] = {"enabled", "allow", "bans", "limits"};
constexpr std::string_view kLimitKeys[] = {"name", "per_source", "per_prefix", "per_destination"};
constexpr std::string_view kRateKeys[] = {"pps", "burst", "bps", "burst_bytes"};
constexpr std::string_view kPrefixRateKeys[] = {"pps", "burst", "bps", "burst_bytes", "ipv4", "ipv6"};

void read_rate(const YAML::Node& node, std::string_view what, bool prefix, shield::Rate& out,
               shield::LimitProfile& p, Reporter& rep) {
    MapReader m(node, what, what, prefix ? std::span<const std::string_view>(kPrefixRateKeys)
                                         : std::span<const std::string_view>(kRateKeys), rep);
    if (!m.is_map()) return;
    auto number = [&](const char* key, double& dst) {
        if (const Field* f = m.find(key))
            if (auto s = read_scalar(*f, rep)) {
                if (auto v = parse_si(*s))
                    dst = *v;
                else
                    rep.error(f->value, fmt::format("{} must be a positive number (suffixes k, M, G), got '{}'", key, *s));
            }
    };
    number("pps", out.pps);
    number("burst", out.burst);
    number("bps", out.bps);
    number("burst_bytes", out.burst_bytes);
    if (!m.find("pps") && !m.find("bps")) rep.error(node, fmt::format("{} needs pps or bps", what));
    if (out.burst > 0 && out.pps <= 0) rep.error(node, fmt::format("{}: burst goes with pps", what));
    if (out.burst_bytes > 0 && out.bps <= 0) rep.error(node, fmt::format("{}: burst_bytes goes with bps", what));
    if (prefix) {
        if (const Field* f = m.find("ipv4"))
            if (auto v = read_uint(*f, 1, 32, rep)) p.prefix_v4 = int(*v);
        if (const Field* f = m.find("ipv6"))
            if (auto v = read_uint(*f, 1, 128, rep)) p.prefix_v6 = int(*v);
    }
}
constexpr std::string_view kBanKeys[] = {"prefix", "duration", "reason"};
constexpr size_t kMaxReason = sizeof(xdpd_ban::reason) - 1;

std::optional<fw::Cidr> read_prefix(const YAML::Node& n, std::string_view what, Reporter& rep) {
    if (!n.IsScalar()) {
        rep.error(n, fmt::format("{} must be an address or prefix, got {}", what, describe(n)));
        return std::nullopt;
    }
    std::string why;
    auto c = fw::Cidr::parse(n.Scalar(), &why);
    if (!c) rep.error(n, fmt::format("{}: {}", what, why));
    return c;
}

std::string origin_of(const YAML::Node& n, const Reporter& rep) {
    return fmt::format("{}:{}", rep.file(), n.Mark().line + 1);
}

}  // namespace

void parse_shield(const YAML::Node& node, ShieldConfig& out, Reporter& rep) {
    MapReader m(node, "shield", "shield", kShieldKeys, rep);
    if (!m.is_map()) return;
    if (const Field* f = m.find("enabled"))
        if (auto b = read_bool(*f, rep)) out.enabled = *b;

    if (const Field* f = m.find("allow")) {
        if (!f->value.IsSequence() && !f->value.IsNull()) {
            rep.error(f->value, fmt::format("allow must be a list of addresses or prefixes, got {}",
                                            describe(f->value)));
        } else {
            for (const auto& item : f->value)
                if (auto c = read_prefix(item, "allow entry", rep)) out.allow.push_back(*c);
            if (out.allow.size() > XDPD_MAX_ALLOW)
                rep.error(f->value, fmt::format("{} allow entries, at most {}", out.allow.size(), XDPD_MAX_ALLOW));
        }
    }

    if (const Field* f = m.find("bans")) {
        if (!f->value.IsSequence() && !f->value.IsNull()) {
            rep.error(f->value, fmt::format("bans must be a list of {{prefix, duration, reason}}, got {}",
                                            describe(f->value)));
            return;
        }
        for (const auto& item : f->value) {
            MapReader b(item, "ban", "a ban", kBanKeys, rep);
            if (!b.is_map()) continue;
            BanConfig ban;
            ban.origin = origin_of(item, rep);
            const Field* p = b.find("prefix");
            if (!p) {
                rep.error(item, "a ban needs a prefix (an address or a CIDR)");
                continue;
            }
            auto c = read_prefix(p->value, "prefix", rep);
            if (!c) continue;
            ban.prefix = *c;
            if (const Field* d = b.find("duration")) {
                if (auto s = read_scalar(*d, rep)) {
                    ban.duration = parse_duration(*s);
                    if (!ban.duration) {
                        rep.error(d->value, fmt::format("duration '{}' is not a positive duration "
                                                        "(e.g. 90s, 10m, 1h30m, 2d)", *s));
                        continue;
                    }
                }
            }
            if (const Field* r = b.find("reason"))
                if (auto s = read_scalar(*r, rep)) {
                    if (s->size() > kMaxReason) {
                        rep.error(r->value, fmt::format("reason is {} characters, at most {}", s->size(), kMaxReason));
                        continue;
                    }
                    ban.reason = *s;
                }
            out.bans.push_back(std::move(ban));
        }
    }
    if (const Field* f = m.find("limits")) {
        if (!f->value.IsSequence() && !f->value.IsNull()) {
            rep.error(f->value, fmt::format("limits must be a list of profiles, got {}", describe(f->value)));
        } else {
            for (const auto& item : f->value) {
                MapReader l(item, "limit", "a limit profile", kLimitKeys, rep);
                if (!l.is_map()) continue;
                shield::LimitProfile p;
                p.origin = origin_of(item, rep);
                const Field* n = l.find("name");
                if (!n) {
                    rep.error(item, "a limit profile needs a name (rules refer to it with `limit: NAME`)");
                    continue;
                }
                if (auto s = read_scalar(*n, rep)) p.name = *s;
                for (const auto& other : out.limits)
                    if (other.name == p.name)
                        rep.error(n->value, fmt::format("limit profile '{}' is already defined at {}", p.name, other.origin));
                if (const Field* r = l.find("per_source")) read_rate(r->value, "per_source", false, p.per_source, p, rep);
                if (const Field* r = l.find("per_prefix")) read_rate(r->value, "per_prefix", true, p.per_prefix, p, rep);
                if (const Field* r = l.find("per_destination"))
                    read_rate(r->value, "per_destination", false, p.per_destination, p, rep);
                if (!l.find("per_source") && !l.find("per_prefix") && !l.find("per_destination"))
                    rep.error(item, fmt::format("limit profile '{}' sets no rate: give per_source, per_prefix "
                                                "or per_destination",
                                                p.name));
                out.limits.push_back(std::move(p));
            }
            if (out.limits.size() > XDPD_MAX_LIMITS)
                rep.error(f->value, fmt::format("{} limit profiles, at most {}", out.limits.size(), XDPD_MAX_LIMITS));
        }
    }

    for (const auto& a : out.allow)
        for (const auto& b : out.bans)
            if (a.family == b.prefix.family && a.prefix <= b.prefix.prefix && a.contains(b.prefix.addr.data()))
                rep.warning(node, fmt::format("ban {} ({}) lies inside allow-listed {}: allow-listed "
                                              "sources are never banned",
                                              b.prefix.str(), b.origin, a.str()));
}

void resolve_limits(const YAML::Node& root, Config& cfg, Reporter& rep) {
    auto& rules = cfg.rules.rules;
    for (size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].limit.empty()) continue;
        const auto& profiles = cfg.shield.limits;
        for (size_t p = 0; p < profiles.size(); ++p)
            if (profiles[p].name == rules[i].limit) rules[i].limit_index = __u32(p);
        if (rules[i].limit_index) continue;
        std::vector<std::string_view> names;
        for (const auto& p : profiles) names.push_back(p.name);
        std::string msg = fmt::format("no limit profile '{}' in shield.limits", rules[i].limit);
        if (auto c = closest(rules[i].limit, names)) msg += fmt::format(" (did you mean '{}'?)", *c);
        rep.error(root["firewall"]["rules"][i]["limit"], fmt::format("{} (rule {})", msg, i + 1));
    }
}

}  // namespace xdpd::config::detail
