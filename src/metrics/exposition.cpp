#include "metrics/exposition.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace xdpd::metrics {

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {
std::string escape_help(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}
}  // namespace

void Exposition::family(std::string_view name, Type type, std::string_view help) {
    for (const auto& f : families_)
        if (f.name == name) throw std::logic_error(fmt::format("metric family {} declared twice", name));
    families_.push_back({std::string(name),
                         fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name,
                                     type == Type::counter ? "counter" : "gauge"),
                         {}});
}

Exposition::Family& Exposition::find(std::string_view name) {
    for (auto& f : families_)
        if (f.name == name) return f;
    throw std::logic_error(fmt::format("metric {} has no family: declare it first", name));
}

void Exposition::line(std::string_view name, const Labels& labels, const std::string& value) {
    Family& f = find(name);
    f.body += name;
    if (!labels.empty()) {
        f.body += '{';
        for (size_t i = 0; i < labels.size(); ++i) {
            if (i) f.body += ',';
            f.body += fmt::format("{}=\"{}\"", labels[i].first, escape_label(labels[i].second));
        }
        f.body += '}';
    }
    f.body += ' ';
    f.body += value;
    f.body += '\n';
    ++samples_;
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
    std::string v;
    if (std::isnan(value))
        v = "NaN";
    else if (std::isinf(value))
        v = value > 0 ? "+Inf" : "-Inf";
    else
        v = fmt::format("{}", value);
    line(name, labels, v);
}

void Exposition::sample(std::string_view name, const Labels& labels, uint64_t value) {
    line(name, labels, fmt::format("{}", value));
}

std::string Exposition::str() const {
    std::string out;
    for (const auto& f : families_) {
        out += f.head;
        out += f.body;
    }
    return out;
}

}  // namespace xdpd::metrics
