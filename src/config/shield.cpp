// The `shield` section: the allow list and the bans written in the config.
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {
constexpr std::string_view kShieldKeys[] = {"enabled", "allow", "bans"};
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
    for (const auto& a : out.allow)
        for (const auto& b : out.bans)
            if (a.family == b.prefix.family && a.prefix <= b.prefix.prefix && a.contains(b.prefix.addr.data()))
                rep.warning(node, fmt::format("ban {} ({}) lies inside allow-listed {}: allow-listed "
                                              "sources are never banned",
                                              b.prefix.str(), b.origin, a.str()));
}

}  // namespace xdpd::config::detail
