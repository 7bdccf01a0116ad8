// The `firewall` section: on/off, default policy, monitor mode, and the rule
// list with the checks that span rules (unique ids, unreachable rules).
#include <fmt/format.h>

#include <map>

#include "config/sections.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {
constexpr std::string_view kFirewallKeys[] = {"enabled", "default", "monitor", "rules"};
constexpr std::string_view kDefaults[] = {"allow", "deny"};

bool matches_everything(const fw::Match& m) {
    return !m.family && !m.src && !m.dst && !m.proto && !m.sport && !m.dport && !m.tcp_flags &&
           !m.icmp_type && !m.icmp_code && !m.vlan && !m.iface && !m.ifindex;
}

void parse_rules(const YAML::Node& node, Config& cfg, Reporter& rep) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
        rep.error(node, fmt::format("rules must be a list, got {}", describe(node)));
        return;
    }
    struct Seen {
        size_t number;
        int line;
    };
    std::map<std::string, Seen> ids;
    std::vector<YAML::Node> nodes;  // of cfg.rules.rules
    for (size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        size_t number = i + 1;
        if (i == XDPD_FW_MAX_RULES)
            rep.error(item, fmt::format("too many rules: {}, a rule set holds at most {}",
                                        node.size(), XDPD_FW_MAX_RULES));
        size_t errors = rep.error_count();
        fw::Rule rule = parse_rule(item, number, cfg.interfaces, rep);
        if (!rule.id.empty()) {
            auto [it, fresh] = ids.try_emplace(rule.id, Seen{number, item.Mark().line + 1});
            if (!fresh)
                rep.error(item["id"],
                          fmt::format("rule id '{}' is already used by rule {} on line {} "
                                      "(rule {})",
                                      rule.id, it->second.number, it->second.line, number));
        }
        if (rep.error_count() != errors) continue;
        nodes.push_back(item);
        cfg.rules.rules.push_back(std::move(rule));
    }
    // A catch-all allow/deny ends the evaluation for every packet. (A catch-all
    // `count` does not: counting is not a verdict.)
    const auto& rules = cfg.rules.rules;
    if (rules.size() == node.size()) {  // only when no rule was dropped for errors
        for (size_t i = 0; i + 1 < rules.size(); ++i) {
            if (rules[i].action != fw::Action::count && matches_everything(rules[i].match)) {
                rep.warning(nodes[i],
                            fmt::format("rule {} matches every packet; the rules after it "
                                        "are never reached",
                                        i + 1));
                break;
            }
        }
    }
}
}  // namespace

void parse_firewall(const YAML::Node& node, Config& cfg, Reporter& rep) {
    MapReader m(node, "firewall", "firewall", kFirewallKeys, rep);
    if (!m.is_map()) return;
    cfg.firewall_enabled = true;
    if (const Field* f = m.find("enabled"))
        if (auto b = read_bool(*f, rep)) cfg.firewall_enabled = *b;
    if (const Field* f = m.find("default"))
        if (auto i = read_choice(*f, kDefaults, rep))
            cfg.rules.default_action = *i == 0 ? fw::Action::allow : fw::Action::deny;
    if (const Field* f = m.find("monitor"))
        if (auto b = read_bool(*f, rep)) cfg.monitor = *b;
    if (const Field* f = m.find("rules")) parse_rules(f->value, cfg, rep);
}

}  // namespace xdpd::config::detail
