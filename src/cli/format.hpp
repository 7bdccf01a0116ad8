// Number and time formatting shared by the CLI's tables.
#pragma once
#include <fmt/format.h>

#include <ctime>
#include <string>

namespace xdpd::cli {

// 12.3k, 4.56M, 1.20G; plain below 10,000.
inline std::string si(double v) {
    if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
    if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
    if (v >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
    return fmt::format("{:.0f}", v);
}

inline std::string local_time(double epoch) {
    time_t t = time_t(epoch);
    tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

}  // namespace xdpd::cli
