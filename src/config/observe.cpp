// The `metrics` and `events` sections: where the Prometheus endpoint listens,
// how many sources it and `xdpd top` name, and which packets the data plane
// reports as events.
#include <arpa/inet.h>
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"
#include "stats/names.hpp"

namespace xdpd::config {

uint64_t default_event_reasons() {
    uint64_t m = 0;
    for (int r : {XDPD_R_BANNED, XDPD_R_RATE_SOURCE, XDPD_R_RATE_PREFIX, XDPD_R_RATE_DEST, XDPD_R_SYNCOOKIE_BAD,
                  XDPD_R_LB_NO_BACKEND, XDPD_R_LB_NO_ROUTE})
        m |= 1ull << r;
    for (int r = XDPD_R_MALFORMED_FIRST; r <= XDPD_R_MALFORMED_LAST; ++r) m |= 1ull << r;
    return m;
}

namespace detail {
namespace {
constexpr std::string_view kMetricsKeys[] = {"listen", "top_sources", "source_sample"};
constexpr std::string_view kEventsKeys[] = {"rate", "reasons"};

// "HOST:PORT", ":PORT", "[V6]:PORT"; why is set when it is none of them.
bool valid_listen(const std::string& s, std::string* why) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) {
        *why = "no port (write HOST:PORT, :PORT or [IPV6]:PORT)";
        return false;
    }
    const auto port = parse_decimal(std::string_view(s).substr(colon + 1), 65535);
    if (!port || *port == 0) {
        *why = fmt::format("'{}' is not a port (1-65535)", s.substr(colon + 1));
        return false;
    }
    std::string host = s.substr(0, colon);
    if (host.empty()) return true;
    unsigned char buf[16];
    if (host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return true;
    } else if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
        return true;
    }
    *why = fmt::format("'{}' is not an IPv4 address or a bracketed IPv6 address", host);
    return false;
}
}  // namespace

void parse_metrics(const YAML::Node& node, ObserveConfig& out, Reporter& rep) {
    MapReader m(node, "metrics", "metrics", kMetricsKeys, rep);
    if (!m.is_map()) return;
    if (const Field* f = m.find("listen")) {
        if (auto s = read_scalar(*f, rep)) {
            std::string why;
            if (*s == "off")
                out.metrics_listen.clear();
            else if (valid_listen(*s, &why))
                out.metrics_listen = *s;
            else
                rep.error(f->value, fmt::format("listen: {}; or 'off' for no endpoint", why));
        }
    }
    if (const Field* f = m.find("top_sources"))
        if (auto n = read_uint(*f, 0, 1000, rep)) out.top_sources = unsigned(*n);
    if (const Field* f = m.find("source_sample")) {
        if (auto n = read_uint(*f, 0, 1u << 20, rep)) {
            if (*n & (*n - 1))
                rep.error(f->value, fmt::format("source_sample must be a power of two (1 in N packets "
                                                "per CPU, e.g. 64) or 0 for off, got {}", *n));
            else
                out.source_sample = unsigned(*n);
        }
    }
}

void parse_events(const YAML::Node& node, ObserveConfig& out, Reporter& rep) {
    MapReader m(node, "events", "events", kEventsKeys, rep);
    if (!m.is_map()) return;
    if (const Field* f = m.find("rate"))
        if (auto n = read_uint(*f, 0, 100000, rep)) out.event_rate = unsigned(*n);
    if (const Field* f = m.find("reasons")) {
        if (!f->value.IsSequence()) {
            rep.error(f->value, "reasons must be a list of reason names (see `xdpd stats`), e.g. [banned, rate_source]");
            return;
        }
        out.event_reasons = 0;
        out.event_reasons_set = true;
        for (const auto& item : f->value) {
            const std::string name = item.IsScalar() ? item.as<std::string>() : "";
            size_t r = 0;
            while (r < stats::kReasonNames.size() && stats::kReasonNames[r] != name) ++r;
            if (r == stats::kReasonNames.size()) {
                const auto hint = closest(name, stats::kReasonNames);
                rep.error(item, fmt::format("unknown reason '{}'{}", name,
                                            hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
                continue;
            }
            out.event_reasons |= 1ull << r;
        }
    }
}

}  // namespace detail
}  // namespace xdpd::config
