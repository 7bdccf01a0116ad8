// Collects the errors and warnings found while walking a config, each at the
// position of a YAML node. Internal to src/config.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace xdpd::config::detail {

class Reporter {
public:
    explicit Reporter(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Mark& at, const std::string& message);
    void error(const YAML::Node& at, const std::string& message) { error(at.Mark(), message); }
    void warning(const YAML::Mark& at, const std::string& message);
    void warning(const YAML::Node& at, const std::string& message) { warning(at.Mark(), message); }

    size_t error_count() const { return errors_.size(); }
    const std::string& file() const { return file_; }
    // "file:line" of a node, for Rule::origin and InterfaceConfig::origin.
    std::string origin(const YAML::Node& at) const;

    std::vector<Diagnostic> take_warnings() { return std::move(warnings_); }
    ConfigError failure() const;  // all errors, sorted by position

    // While a Context is alive, every message ends with its suffix, e.g.
    // " (rule 3)". Contexts do not nest.
    class Context {
    public:
        Context(Reporter& r, std::string suffix) : r_(r) { r_.suffix_ = std::move(suffix); }
        ~Context() { r_.suffix_.clear(); }
        Context(const Context&) = delete;
        Context& operator=(const Context&) = delete;

    private:
        Reporter& r_;
    };

private:
    Diagnostic make(const YAML::Mark& at, const std::string& message, bool warning) const;

    std::string file_;
    std::string suffix_;
    std::vector<Diagnostic> errors_, warnings_;
};

}  // namespace xdpd::config::detail
