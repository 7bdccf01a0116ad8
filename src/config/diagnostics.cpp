#include "config/diagnostics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace xdpd::config {

std::string Diagnostic::str() const {
    std::string s = file;
    if (line > 0) {
        s += fmt::format(":{}", line);
        if (column > 0) s += fmt::format(":{}", column);
    }
    s += warning ? ": warning: " : ": error: ";
    s += message;
    return s;
}

namespace {
std::string join(const std::vector<Diagnostic>& diags) {
    std::string out;
    for (const auto& d : diags) {
        if (!out.empty()) out += '\n';
        out += d.str();
    }
    return out;
}
}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diags)
    : std::runtime_error(join(diags)), diagnostics(std::move(diags)) {}

namespace detail {

Diagnostic Reporter::make(const YAML::Mark& at, const std::string& message, bool warning) const {
    Diagnostic d;
    d.file = file_;
    if (!at.is_null()) {
        d.line = at.line + 1;
        d.column = at.column + 1;
    }
    d.message = message + suffix_;
    d.warning = warning;
    return d;
}

void Reporter::error(const YAML::Mark& at, const std::string& message) {
    errors_.push_back(make(at, message, false));
}

void Reporter::warning(const YAML::Mark& at, const std::string& message) {
    warnings_.push_back(make(at, message, true));
}

std::string Reporter::origin(const YAML::Node& at) const {
    YAML::Mark m = at.Mark();
    return m.is_null() ? file_ : fmt::format("{}:{}", file_, m.line + 1);
}

ConfigError Reporter::failure() const {
    auto sorted = errors_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return ConfigError(std::move(sorted));
}

}  // namespace detail
}  // namespace xdpd::config
