// The top level of the config file, and the small `parser` section.
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {

constexpr std::string_view kTopKeys[] = {"interfaces", "parser", "firewall", "shield", "syncookies",
                                         "mitigation", "lb", "steer", "metrics", "events", "daemon"};
constexpr std::string_view kParserKeys[] = {"malformed"};
constexpr std::string_view kMalformed[] = {"drop", "pass"};

void parse_parser(const YAML::Node& node, Config& cfg, Reporter& rep) {
    MapReader m(node, "parser", "parser", kParserKeys, rep);
    if (const Field* f = m.find("malformed"))
        if (auto i = read_choice(*f, kMalformed, rep))
            cfg.malformed_action = *i == 0 ? XDPD_ACT_DROP : XDPD_ACT_PASS;
}

}  // namespace

Config parse_document(const YAML::Node& root, Reporter& rep) {
    Config cfg;
    if (root.IsNull()) {
        rep.error(root, "the config is empty; it needs at least an 'interfaces' list");
        return cfg;
    }
    MapReader top(root, "top-level", "the config", kTopKeys, rep);
    if (!top.is_map()) return cfg;

    // Interfaces first: rules refer to them by name.
    if (const Field* f = top.find("interfaces"))
        parse_interfaces(f->value, f->key_node, cfg, rep);
    else
        rep.error(root, "'interfaces' is missing: list the interfaces to attach to");
    if (const Field* f = top.find("parser")) parse_parser(f->value, cfg, rep);
    if (const Field* f = top.find("firewall")) parse_firewall(f->value, cfg, rep);
    if (const Field* f = top.find("shield")) parse_shield(f->value, cfg.shield, rep);
    if (const Field* f = top.find("syncookies")) parse_syncookies(f->value, cfg.syncookies, rep);
    if (const Field* f = top.find("mitigation")) parse_mitigation(f->value, cfg.mitigation, rep);
    if (const Field* f = top.find("lb")) parse_lb(f->value, cfg, rep);
    if (const Field* f = top.find("steer")) parse_steer(f->value, cfg.steer, rep);
    if (const Field* f = top.find("metrics")) parse_metrics(f->value, cfg.observe, rep);
    if (const Field* f = top.find("events")) parse_events(f->value, cfg.observe, rep);
    if (!cfg.observe.event_reasons_set) cfg.observe.event_reasons = default_event_reasons();
    if (const Field* f = top.find("daemon")) parse_daemon(f->value, cfg.daemon, rep);
    if (!rep.error_count()) resolve_limits(root, cfg, rep);
    if (!rep.error_count()) resolve_mitigation(root, cfg, rep);
    if (!rep.error_count()) resolve_steer(root, cfg, rep);
    return cfg;
}

}  // namespace xdpd::config::detail
