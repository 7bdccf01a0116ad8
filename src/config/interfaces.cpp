// The `interfaces` section: where the data plane is attached, and how.
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config {

const char* to_string(AttachMode m) {
    switch (m) {
    case AttachMode::native: return "native";
    case AttachMode::skb: return "skb";
    case AttachMode::hw: return "hw";
    case AttachMode::automatic: return "auto";
    }
    return "?";
}

namespace detail {

namespace {
constexpr std::string_view kInterfaceKeys[] = {"name", "mode"};
// Same order as AttachMode.
constexpr std::string_view kModes[] = {"native", "skb", "hw", "auto"};

// Best effort: a field with an error is reported and left at its default.
InterfaceConfig parse_interface(const YAML::Node& node, Reporter& rep) {
    InterfaceConfig ic;
    ic.origin = rep.origin(node);
    if (node.IsNull()) {
        rep.error(node, "empty list entry where an interface should be");
        return ic;
    }
    if (node.IsScalar()) {
        rep.error(node, fmt::format("an interface must be a map like '{{name: {}}}', got {}",
                                    node.Scalar(), describe(node)));
        return ic;
    }
    MapReader m(node, "interface", "an interface", kInterfaceKeys, rep);
    if (!m.is_map()) return ic;

    if (const Field* f = m.find("name")) {
        if (auto name = read_scalar(*f, rep)) {
            std::string why;
            if (valid_ifname(*name, &why))
                ic.name = *name;
            else
                rep.error(f->value, "invalid interface name: " + why);
        }
    } else {
        rep.error(node, "an interface needs a name");
    }
    if (const Field* f = m.find("mode"))
        if (auto i = read_choice(*f, kModes, rep)) ic.mode = static_cast<AttachMode>(*i);
    return ic;
}
}  // namespace

void parse_interfaces(const YAML::Node& node, const YAML::Node& key, Config& cfg, Reporter& rep) {
    if (node.IsNull()) {
        rep.error(key, "'interfaces' is empty: list at least one interface");
        return;
    }
    if (!node.IsSequence()) {
        rep.error(node, fmt::format("'interfaces' must be a list, got {}", describe(node)));
        return;
    }
    if (node.size() == 0) {
        rep.error(node, "'interfaces' is empty: list at least one interface");
        return;
    }
    std::vector<int> lines;  // of cfg.interfaces
    for (size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        InterfaceConfig ic = parse_interface(item, rep);
        if (i == XDPD_MAX_IFACES) {
            rep.error(item, fmt::format("too many interfaces: {}, one data plane serves at most {}",
                                        node.size(), XDPD_MAX_IFACES));
        }
        if (ic.name.empty()) continue;  // no valid name: reported
        bool dup = false;
        for (size_t j = 0; j < cfg.interfaces.size() && !dup; ++j) {
            if (cfg.interfaces[j].name == ic.name) {
                rep.error(item["name"],
                          fmt::format("interface '{}' is listed twice (first on line {})", ic.name,
                                      lines[j]));
                dup = true;
            }
        }
        // Kept even when its mode is wrong: rules name it, and a later
        // duplicate is still found.
        if (dup) continue;
        lines.push_back(item.Mark().line + 1);
        cfg.interfaces.push_back(std::move(ic));
    }
}

}  // namespace detail
}  // namespace xdpd::config
