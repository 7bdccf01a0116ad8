#include "config/values.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace xdpd::config::detail {

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: insert, delete, substitute, swap two neighbours.
    auto low = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
    const size_t w = b.size() + 1;
    std::vector<size_t> d((a.size() + 1) * w);
    for (size_t i = 0; i <= a.size(); ++i) d[i * w] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
            size_t v = std::min(
                {d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1, d[(i - 1) * w + j - 1] + cost});
            if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
                v = std::min(v, d[(i - 2) * w + j - 2] + 1);
            d[i * w + j] = v;
        }
    }
    return d[a.size() * w + b.size()];
}

std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
    std::optional<std::string_view> best;
    size_t best_d = 3;
    bool tie = false;
    for (auto c : candidates) {
        size_t d = edit_distance(word, c);
        // "x" is 2 edits from "id": that is a guess, not a typo.
        if (d >= c.size()) continue;
        if (d < best_d) {
            best = c;
            best_d = d;
            tie = false;
        } else if (d == best_d) {
            tie = true;
        }
    }
    // "eth2" is as near to eth0 as to eth1: no suggestion beats a wrong one.
    if (tie) return std::nullopt;
    return best;
}

std::string join_or(std::span<const std::string_view> words) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i) out += i + 1 == words.size() ? " or " : ", ";
        out += words[i];
    }
    return out;
}

std::string join_comma(std::span<const std::string_view> words) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i) out += ", ";
        out += words[i];
    }
    return out;
}

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<uint16_t> parse_port(std::string_view text, std::string* why) {
    text = trim(text);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        *why = fmt::format("'{}' is not a port number; use N or LO-HI with ports 0-65535", text);
        return std::nullopt;
    }
    auto v = parse_decimal(text, 65535);
    if (!v) {
        *why = fmt::format("{} is above 65535", text);
        return std::nullopt;
    }
    return uint16_t(*v);
}

}  // namespace

std::optional<fw::PortRange> parse_port_range(std::string_view text, std::string* why) {
    std::string ignored;
    if (!why) why = &ignored;
    auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        auto p = parse_port(text, why);
        if (!p) return std::nullopt;
        return fw::PortRange{*p, *p};
    }
    if (trim(text.substr(0, dash)).empty() || trim(text.substr(dash + 1)).empty()) {
        *why = fmt::format("'{}' is not a port range; use N or LO-HI with ports 0-65535", text);
        return std::nullopt;
    }
    auto lo = parse_port(text.substr(0, dash), why);
    if (!lo) return std::nullopt;
    auto hi = parse_port(text.substr(dash + 1), why);
    if (!hi) return std::nullopt;
    if (*lo > *hi) {
        *why = fmt::format("the range is backwards: {} is above {}", *lo, *hi);
        return std::nullopt;
    }
    return fw::PortRange{*lo, *hi};
}

namespace {
constexpr std::pair<std::string_view, uint8_t> kProtos[] = {
    {"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {"icmp", IPPROTO_ICMP}, {"icmpv6", IPPROTO_ICMPV6}};

struct IcmpTable {
    std::string_view names[10];
    uint8_t types[10];
    size_t n;
};

constexpr IcmpTable kIcmp4 = {{"echo-reply", "destination-unreachable", "redirect", "echo-request",
                               "time-exceeded", "parameter-problem"},
                              {0, 3, 5, 8, 11, 12},
                              6};

constexpr IcmpTable kIcmp6 = {
    {"destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem",
     "echo-request", "echo-reply", "router-solicitation", "router-advertisement",
     "neighbor-solicitation", "neighbor-advertisement"},
    {1, 2, 3, 4, 128, 129, 133, 134, 135, 136},
    10};

const IcmpTable& icmp_table(int family) { return family == 6 ? kIcmp6 : kIcmp4; }
}  // namespace

std::optional<uint8_t> parse_proto(std::string_view text) {
    for (auto [name, num] : kProtos)
        if (text == name) return num;
    if (auto v = parse_decimal(text, 255)) return uint8_t(*v);
    return std::nullopt;
}

std::string proto_name(uint8_t proto) {
    for (auto [name, num] : kProtos)
        if (num == proto) return std::string(name);
    return std::to_string(proto);
}

std::optional<uint8_t> icmp_type_by_name(int family, std::string_view name) {
    const auto& t = icmp_table(family);
    for (size_t i = 0; i < t.n; ++i)
        if (t.names[i] == name) return t.types[i];
    return std::nullopt;
}

std::span<const std::string_view> icmp_type_names(int family) {
    const auto& t = icmp_table(family);
    return {t.names, t.n};
}

bool valid_ifname(std::string_view name, std::string* why) {
    auto fail = [&](std::string msg) {
        if (why) *why = std::move(msg);
        return false;
    };
    if (name.empty()) return fail("the name is empty");
    if (name.size() > 15)
        return fail(
            fmt::format("'{}' is {} characters, the kernel allows at most 15", name, name.size()));
    if (name == "." || name == "..") return fail(fmt::format("'{}' is not a valid name", name));
    for (char c : name)
        if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)))
            return fail(fmt::format("'{}' contains '{}', which interface names cannot hold", name,
                                    c == '/' || c == ':' ? std::string(1, c) : "a blank"));
    return true;
}

bool valid_rule_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
               c == '-';
    });
}

// "1000", "2.5k", "10M", "1G": a positive number with an SI suffix (x1000).
std::optional<double> parse_si(const std::string& s) {
    if (s.empty()) return std::nullopt;
    double mult = 1;
    std::string num = s;
    switch (s.back()) {
    case 'k': case 'K': mult = 1e3; num.pop_back(); break;
    case 'M': mult = 1e6; num.pop_back(); break;
    case 'G': mult = 1e9; num.pop_back(); break;
    default: break;
    }
    if (num.empty() || num.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
    try {
        double v = std::stod(num) * mult;
        if (v <= 0) return std::nullopt;
        return v;
    } catch (...) {
        return std::nullopt;
    }
}


}  // namespace xdpd::config::detail

namespace xdpd::config {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    using detail::parse_decimal;
    if (text.empty()) return std::nullopt;
    if (auto plain = parse_decimal(text, uint64_t(1) << 40)) {
        if (!*plain) return std::nullopt;
        return std::chrono::seconds(*plain);
    }
    uint64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        if (j == i || j == text.size()) return std::nullopt;
        auto n = parse_decimal(text.substr(i, j - i), uint64_t(1) << 32);
        if (!n) return std::nullopt;
        uint64_t unit = 0;
        switch (text[j]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return std::nullopt;
        }
        total += *n * unit;
        i = j + 1;
    }
    if (!total) return std::nullopt;
    return std::chrono::seconds(total);
}

}  // namespace xdpd::config
