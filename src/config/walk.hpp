// Walking YAML: maps with a fixed set of keys, and typed scalar fields. Every
// problem is reported at the offending node; the caller carries on so that
// all errors of a file are found in one pass. Internal.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"

namespace xdpd::config::detail {

// "a list", "a map", "nothing", "'text'": what a node is, for messages.
std::string describe(const YAML::Node& n);

struct Field {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
};

// The entries of a YAML map whose keys must come from `known`. Reports a node
// that is not a map ("<subject> must be a map, got a list"), unknown keys
// ("unknown <kind> key 'dprot', did you mean 'dport'?") and repeated keys.
// A null node (key present, no value) reads as an empty map.
class MapReader {
public:
    MapReader(const YAML::Node& node, std::string_view kind, std::string_view subject,
              std::span<const std::string_view> known, Reporter& rep);

    bool is_map() const { return is_map_; }
    const Field* find(std::string_view key) const;

private:
    bool is_map_ = false;
    std::vector<Field> fields_;
};

// Typed readers of a field's value. Each reports what is wrong and returns
// nullopt, or returns the value.
std::optional<std::string> read_scalar(const Field& f, Reporter& rep);
std::optional<bool> read_bool(const Field& f, Reporter& rep);
std::optional<uint64_t> read_uint(const Field& f, uint64_t lo, uint64_t hi, Reporter& rep);
// Index of the value in `choices`.
std::optional<size_t> read_choice(const Field& f, std::span<const std::string_view> choices,
                                  Reporter& rep);

}  // namespace xdpd::config::detail
