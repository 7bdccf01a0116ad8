#include "config/walk.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "config/values.hpp"

namespace xdpd::config::detail {

std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: return fmt::format("'{}'", n.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "nothing";
    }
    return "?";
}

MapReader::MapReader(const YAML::Node& node, std::string_view kind, std::string_view subject,
                     std::span<const std::string_view> known, Reporter& rep) {
    if (node.IsNull()) {
        is_map_ = true;
        return;
    }
    if (!node.IsMap()) {
        rep.error(node, fmt::format("{} must be a map of keys, got {}", subject, describe(node)));
        return;
    }
    is_map_ = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
        YAML::Node k = it->first;
        if (!k.IsScalar()) {
            rep.error(k, fmt::format("{} keys must be names, got {}", kind, describe(k)));
            continue;
        }
        const std::string& name = k.Scalar();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            if (auto near = closest(name, known))
                rep.error(
                    k, fmt::format("unknown {} key '{}', did you mean '{}'?", kind, name, *near));
            else
                rep.error(k, fmt::format("unknown {} key '{}'; known keys: {}", kind, name,
                                         join_comma(known)));
            continue;
        }
        if (const Field* first = find(name)) {
            rep.error(k, fmt::format("'{}' is given twice (first on line {})", name,
                                     first->key_node.Mark().line + 1));
            continue;
        }
        fields_.push_back({name, k, it->second});
    }
}

const Field* MapReader::find(std::string_view key) const {
    for (const auto& f : fields_)
        if (f.key == key) return &f;
    return nullptr;
}

std::optional<std::string> read_scalar(const Field& f, Reporter& rep) {
    if (f.value.IsScalar()) return f.value.Scalar();
    if (f.value.IsNull())
        rep.error(f.key_node, fmt::format("{} has no value", f.key));
    else
        rep.error(f.value,
                  fmt::format("{} must be a single value, got {}", f.key, describe(f.value)));
    return std::nullopt;
}

std::optional<bool> read_bool(const Field& f, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "True" || *s == "TRUE") return true;
    if (*s == "false" || *s == "False" || *s == "FALSE") return false;
    rep.error(f.value, fmt::format("{} must be true or false, got '{}'", f.key, *s));
    return std::nullopt;
}

std::optional<uint64_t> read_uint(const Field& f, uint64_t lo, uint64_t hi, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    if (s->empty() || s->find_first_not_of("0123456789") != std::string::npos) {
        rep.error(f.value, fmt::format("{} must be a number {}-{}, got '{}'", f.key, lo, hi, *s));
        return std::nullopt;
    }
    auto v = parse_decimal(*s);
    if (!v || *v < lo || *v > hi) {
        rep.error(f.value, fmt::format("{} {} is out of range {}-{}", f.key, *s, lo, hi));
        return std::nullopt;
    }
    return v;
}

std::optional<size_t> read_choice(const Field& f, std::span<const std::string_view> choices,
                                  Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    for (size_t i = 0; i < choices.size(); ++i)
        if (choices[i] == *s) return i;
    std::string msg = fmt::format("{} must be {}, got '{}'", f.key, join_or(choices), *s);
    if (auto near = closest(*s, choices)) msg += fmt::format("; did you mean '{}'?", *near);
    rep.error(f.value, msg);
    return std::nullopt;
}

}  // namespace xdpd::config::detail
