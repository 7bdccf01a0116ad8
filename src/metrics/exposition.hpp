// Prometheus text exposition format (version 0.0.4): families with HELP and
// TYPE, samples grouped under their family, label values escaped.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xdpd::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string_view, std::string>>;

class Exposition {
public:
    enum class Type { counter, gauge };

    // Declares a family (HELP and TYPE are written even when it has no
    // samples). Samples of it may follow, in any order with other families'.
    void family(std::string_view name, Type type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, double value);
    void sample(std::string_view name, const Labels& labels, uint64_t value);
    void sample(std::string_view name, double value) { sample(name, {}, value); }

    std::string str() const;
    size_t samples() const { return samples_; }

private:
    struct Family {
        std::string name, head, body;
    };
    Family& find(std::string_view name);
    void line(std::string_view name, const Labels& labels, std::string_view value);

    std::vector<Family> families_;
    size_t samples_ = 0;
    size_t last_ = 0;  // the family of the last sample
};

// "a\"b" for a"b: backslash, double quote and newline escaped.
std::string escape_label(std::string_view v);

}  // namespace xdpd::metrics
