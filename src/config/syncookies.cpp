// The `syncookies` section: which TCP ports XDP answers with SYN cookies, and
// the TCP parameters of its SYN-ACKs (shared with netfilter's SYNPROXY).
#include <fmt/format.h>

#include <set>

#include "config/sections.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {
constexpr std::string_view kSyncookieKeys[] = {"enabled", "mode", "ports", "mss", "mss6", "wscale", "ttl"};
constexpr std::string_view kModes[] = {"always", "auto"};
}  // namespace

void parse_syncookies(const YAML::Node& node, SyncookieConfig& out, Reporter& rep) {
    MapReader m(node, "syncookies", "syncookies", kSyncookieKeys, rep);
    if (!m.is_map()) return;
    out.enabled = true;
    out.origin = fmt::format("{}:{}", rep.file(), node.Mark().line + 1);
    if (const Field* f = m.find("enabled"))
        if (auto b = read_bool(*f, rep)) out.enabled = *b;
    if (const Field* f = m.find("mode"))
        if (auto i = read_choice(*f, kModes, rep)) out.automatic = *i == 1;

    if (const Field* f = m.find("ports")) {
        if (!f->value.IsSequence()) {
            rep.error(f->value, fmt::format("ports must be a list of TCP ports, got {}", describe(f->value)));
        } else {
            std::set<uint64_t> seen;
            for (const auto& item : f->value) {
                Field pf{"port", item, item};
                auto v = read_uint(pf, 1, 65535, rep);
                if (!v) continue;
                if (!seen.insert(*v).second) {
                    rep.error(item, fmt::format("port {} is listed twice", *v));
                    continue;
                }
                out.ports.push_back(uint16_t(*v));
            }
            if (out.ports.size() > XDPD_SYNCOOKIE_MAX_PORTS)
                rep.error(f->value, fmt::format("{} ports, SYN cookies protect at most {}", out.ports.size(),
                                                XDPD_SYNCOOKIE_MAX_PORTS));
        }
    }
    if (out.enabled && !m.find("ports"))
        rep.error(node, "syncookies needs 'ports': the TCP ports to protect, e.g. ports: [80, 443]");
    else if (out.enabled && m.find("ports")->value.IsSequence() && m.find("ports")->value.size() == 0)
        rep.error(m.find("ports")->value, "ports is empty: list the TCP ports to protect");

    bool mss6_set = false;
    if (const Field* f = m.find("mss"))
        if (auto v = read_uint(*f, 536, 9000, rep)) out.mss = uint16_t(*v);
    if (const Field* f = m.find("mss6"))
        if (auto v = read_uint(*f, 1220, 9000, rep)) {
            out.mss6 = uint16_t(*v);
            mss6_set = true;
        }
    if (!mss6_set) out.mss6 = uint16_t(out.mss > 1240 ? out.mss - 20 : 1220);
    if (const Field* f = m.find("wscale"))
        if (auto v = read_uint(*f, 0, 14, rep)) out.wscale = uint8_t(*v);
    if (const Field* f = m.find("ttl"))
        if (auto v = read_uint(*f, 1, 255, rep)) out.ttl = uint8_t(*v);
}

}  // namespace xdpd::config::detail
