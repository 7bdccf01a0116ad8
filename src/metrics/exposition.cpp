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
    // Samples come in runs of one family: try the last one first.
    if (last_ < families_.size() && families_[last_].name == name) return families_[last_];
    for (size_t i = 0; i < families_.size(); ++i)
        if (families_[i].name == name) return families_[last_ = i];
    throw std::logic_error(fmt::format("metric {} has no family: declare it first", name));
}

void Exposition::line(std::string_view name, const Labels& labels, std::string_view value) {
    std::string& b = find(name).body;
    b += name;
    if (!labels.empty()) {
        b += '{';
        for (size_t i = 0; i < labels.size(); ++i) {
            if (i) b += ',';
            b += labels[i].first;
            b += "=\"";
            const std::string& v = labels[i].second;
            if (v.find_first_of("\\\"\n") == std::string::npos)
                b += v;
            else
                b += escape_label(v);
            b += '"';
        }
        b += '}';
    }
    b += ' ';
    b += value;
    b += '\n';
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
    const fmt::format_int v(value);
    line(name, labels, std::string_view(v.data(), v.size()));
}

std::string Exposition::str() const {
    std::string out;
    size_t n = 0;
    for (const auto& f : families_) n += f.head.size() + f.body.size();
    out.reserve(n);
    for (const auto& f : families_) {
        out += f.head;
        out += f.body;
    }
    return out;
}

}  // namespace xdpd::metrics
