// The `lb` section: load-balanced services (VIPs), their backends and health
// checks. Every mistake is reported at its node; cross-checks (duplicate
// services, a NAT backend serving two services, SYN cookie ports) at the
// second occurrence.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <map>
#include <set>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config {

std::string LbBackendConfig::id() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(addr.family == 4 ? AF_INET : AF_INET6, addr.addr.data(), buf, sizeof buf);
    return addr.family == 4 ? fmt::format("{}:{}", buf, port) : fmt::format("[{}]:{}", buf, port);
}

bool LbConfig::any_nat() const {
    for (const auto& s : services)
        if (!s.dsr) return true;
    return false;
}

namespace detail {
namespace {

constexpr std::string_view kLbKeys[] = {"enabled", "udp_timeout", "new_flow_limit", "services"};
constexpr std::string_view kServiceKeys[] = {"name", "vip", "proto", "port", "mode", "health", "backends"};
constexpr std::string_view kBackendKeys[] = {"addr", "port", "weight"};
constexpr std::string_view kHealthKeys[] = {"type", "interval", "timeout", "rise", "fall", "port",
                                            "path", "status", "host", "payload", "expect"};
constexpr std::string_view kProtos[] = {"tcp", "udp"};
constexpr std::string_view kModes[] = {"nat", "dsr"};
constexpr std::string_view kHealthTypes[] = {"tcp", "http", "udp", "none"};
constexpr unsigned kMaxWeight = 1000;  // lb::kMaglevMaxWeight (src/lb/maglev.hpp)

// "500ms", "2s", "1m" or plain seconds.
std::optional<std::chrono::milliseconds> read_ms(const Field& f, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    std::string t = *s;
    if (t.size() > 2 && t.ends_with("ms")) {
        if (auto v = parse_decimal(t.substr(0, t.size() - 2), 3600000); v && *v > 0)
            return std::chrono::milliseconds(*v);
    } else if (auto d = parse_duration(t)) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    }
    rep.error(f.value, fmt::format("{} '{}' is not a positive duration (e.g. 500ms, 2s)", f.key, t));
    return std::nullopt;
}

std::optional<fw::Cidr> read_host(const Field& f, Reporter& rep) {
    auto s = read_scalar(f, rep);
    if (!s) return std::nullopt;
    std::string why;
    auto c = fw::Cidr::parse(*s, &why);
    if (!c) {
        rep.error(f.value, fmt::format("{} '{}' is not an address: {}", f.key, *s, why));
        return std::nullopt;
    }
    if (c->prefix != (c->family == 4 ? 32 : 128)) {
        rep.error(f.value, fmt::format("{} must be one address, not the prefix {}", f.key, c->str()));
        return std::nullopt;
    }
    return c;
}

void parse_health(const YAML::Node& node, LbHealthConfig& h, Reporter& rep) {
    MapReader m(node, "health", "health", kHealthKeys, rep);
    if (!m.is_map()) return;
    if (const Field* f = m.find("type"))
        if (auto i = read_choice(*f, kHealthTypes, rep)) h.type = std::string(kHealthTypes[*i]);
    if (const Field* f = m.find("interval"))
        if (auto d = read_ms(*f, rep)) h.interval = *d;
    if (const Field* f = m.find("timeout"))
        if (auto d = read_ms(*f, rep)) h.timeout = *d;
    if (const Field* f = m.find("rise"))
        if (auto v = read_uint(*f, 1, 100, rep)) h.rise = unsigned(*v);
    if (const Field* f = m.find("fall"))
        if (auto v = read_uint(*f, 1, 100, rep)) h.fall = unsigned(*v);
    if (const Field* f = m.find("port"))
        if (auto v = read_uint(*f, 1, 65535, rep)) h.port = uint16_t(*v);
    if (const Field* f = m.find("path")) {
        if (auto s = read_scalar(*f, rep)) {
            if (s->empty() || (*s)[0] != '/' || s->find_first_of("\r\n ") != std::string::npos)
                rep.error(f->value, fmt::format("path '{}' must start with '/' and hold no blanks", *s));
            else
                h.path = *s;
        }
    }
    if (const Field* f = m.find("status"))
        if (auto v = read_uint(*f, 100, 599, rep)) h.status = int(*v);
    if (const Field* f = m.find("host"))
        if (auto s = read_scalar(*f, rep)) h.host = *s;
    if (const Field* f = m.find("payload"))
        if (auto s = read_scalar(*f, rep)) h.payload = *s;
    if (const Field* f = m.find("expect"))
        if (auto s = read_scalar(*f, rep)) h.expect = *s;
    if (h.timeout > h.interval)
        rep.error(node, fmt::format("health timeout ({} ms) is longer than its interval ({} ms)",
                                    h.timeout.count(), h.interval.count()));
}

void parse_backend(const YAML::Node& node, const LbServiceConfig& svc, LbBackendConfig& b, Reporter& rep) {
    MapReader m(node, "backend", "a backend", kBackendKeys, rep);
    if (!m.is_map()) return;
    b.origin = rep.origin(node);
    if (const Field* f = m.find("addr")) {
        if (auto a = read_host(*f, rep)) {
            b.addr = *a;
            if (a->family != svc.vip.family)
                rep.error(f->value, fmt::format("backend {} is IPv{}, the service's VIP is IPv{}: a packet keeps "
                                                "its IP version", a->str(), a->family, svc.vip.family));
        }
    } else {
        rep.error(node, "backend needs 'addr'");
    }
    b.port = svc.port;  // NAT default: the service's port; all-port services keep the packet's
    if (const Field* f = m.find("port")) {
        if (auto v = read_uint(*f, 1, 65535, rep)) {
            if (svc.port == 0)
                rep.error(f->value, "a service of all ports keeps each packet's port: its backends take no port");
            else if (svc.dsr && *v != svc.port)
                rep.error(f->value, fmt::format("in DSR mode the backend answers on the service's port {}; "
                                                "DSR cannot change ports (use mode: nat)", svc.port));
            else
                b.port = uint16_t(*v);
        }
    }
    if (svc.dsr) b.port = 0;  // DSR never rewrites ports
    if (const Field* f = m.find("weight"))
        if (auto v = read_uint(*f, 0, kMaxWeight, rep)) b.weight = unsigned(*v);
}

void parse_service(const YAML::Node& node, size_t number, LbServiceConfig& s, Reporter& rep) {
    Reporter::Context ctx(rep, fmt::format(" (lb service {})", number));
    MapReader m(node, "service", "an lb service", kServiceKeys, rep);
    if (!m.is_map()) return;
    s.origin = rep.origin(node);
    if (const Field* f = m.find("name")) {
        if (auto n = read_scalar(*f, rep)) {
            if (!valid_rule_id(*n))
                rep.error(f->value, fmt::format("name '{}' may hold only letters, digits and _.:- (1-64)", *n));
            s.name = *n;
        }
    } else {
        rep.error(node, "service needs a 'name'");
    }
    if (const Field* f = m.find("vip")) {
        if (auto a = read_host(*f, rep)) s.vip = *a;
    } else {
        rep.error(node, "service needs a 'vip': the address clients connect to");
    }
    if (const Field* f = m.find("proto"))
        if (auto i = read_choice(*f, kProtos, rep)) s.proto = *i == 0 ? 6 : 17;
    if (const Field* f = m.find("port")) {
        auto t = read_scalar(*f, rep);
        if (t && *t == "all")
            s.port = 0;
        else if (auto v = t ? read_uint(*f, 1, 65535, rep) : std::nullopt)
            s.port = uint16_t(*v);
    } else {
        rep.error(node, "service needs a 'port' (1-65535, or all)");
    }
    if (const Field* f = m.find("mode"))
        if (auto i = read_choice(*f, kModes, rep)) s.dsr = *i == 1;
    if (s.port == 0 && !s.dsr && m.find("port"))
        rep.error(m.find("port")->value, "a service of all ports needs mode: dsr (NAT recognises replies by "
                                         "the backend's port)");
    s.health.type = s.proto == 6 ? "tcp" : "none";
    if (const Field* f = m.find("health")) parse_health(f->value, s.health, rep);
    if (s.health.type == "http" && s.proto != 6)
        rep.error(m.find("health")->value, "an http health check needs a TCP service");

    if (const Field* f = m.find("backends")) {
        if (!f->value.IsSequence()) {
            rep.error(f->value, fmt::format("backends must be a list, got {}", describe(f->value)));
            return;
        }
        std::set<std::string> seen;
        for (const auto& item : f->value) {
            LbBackendConfig b;
            const size_t errors = rep.error_count();
            parse_backend(item, s, b, rep);
            if (rep.error_count() != errors) continue;
            if (!seen.insert(b.id()).second) {
                rep.error(item, fmt::format("backend {} is listed twice", b.id()));
                continue;
            }
            s.backends.push_back(b);
        }
    }
}

}  // namespace

void parse_lb(const YAML::Node& node, Config& cfg, Reporter& rep) {
    LbConfig& out = cfg.lb;
    MapReader m(node, "lb", "lb", kLbKeys, rep);
    if (!m.is_map()) return;
    out.enabled = true;
    out.origin = rep.origin(node);
    if (const Field* f = m.find("enabled"))
        if (auto b = read_bool(*f, rep)) out.enabled = *b;
    if (const Field* f = m.find("udp_timeout"))
        if (auto d = read_ms(*f, rep)) out.udp_timeout = std::max(std::chrono::seconds(1),
                                                                  std::chrono::duration_cast<std::chrono::seconds>(*d));
    if (const Field* f = m.find("new_flow_limit")) {
        auto t = read_scalar(*f, rep);
        auto v = t && *t == "0" ? std::optional<double>(0) : t ? parse_si(*t) : std::nullopt;
        if (t && (!v || *v > 1e9))
            rep.error(f->value, fmt::format("new_flow_limit must be a number of flows per second and CPU (suffixes "
                                            "k, M; 0: no limit), got '{}'", *t));
        else if (v)
            out.new_flow_limit = uint32_t(*v);
    }

    const Field* services = m.find("services");
    if (!services) {
        if (out.enabled) rep.error(node, "lb needs 'services': the VIPs to balance");
        return;
    }
    if (!services->value.IsSequence()) {
        rep.error(services->value, fmt::format("services must be a list, got {}", describe(services->value)));
        return;
    }
    std::map<std::string, std::string> keys;     // (vip, proto, port) -> service name
    std::map<std::string, std::string> nat_src;  // NAT backend (addr, port, proto) -> service name
    std::set<std::string> names;
    size_t n_backends = 0, number = 0;
    for (const auto& item : services->value) {
        LbServiceConfig s;
        const size_t errors = rep.error_count();
        parse_service(item, ++number, s, rep);
        if (rep.error_count() != errors) continue;
        if (!names.insert(s.name).second) {
            rep.error(item, fmt::format("service name '{}' is used twice", s.name));
            continue;
        }
        const std::string proto = s.proto == 6 ? "tcp" : "udp";
        const std::string key = fmt::format("{} {} {}", s.vip.str(), proto, s.port);
        if (auto [it, fresh] = keys.emplace(key, s.name); !fresh) {
            rep.error(item, fmt::format("service '{}' has the same VIP, protocol and port as '{}'", s.name, it->second));
            continue;
        }
        if (!s.dsr)
            for (const auto& b : s.backends) {
                auto [it, fresh] = nat_src.emplace(b.id() + "/" + proto, s.name);
                if (!fresh)
                    rep.error(item, fmt::format("NAT backend {} ({}) also serves '{}': replies from it could not be "
                                                "told apart; give each service its own backend port", b.id(), proto,
                                                it->second));
            }
        if (cfg.syncookies.enabled && s.proto == 6)
            for (uint16_t p : cfg.syncookies.ports)
                if (s.port == 0 || s.port == p)
                    rep.error(item, fmt::format("TCP port {} of service '{}' is a SYN cookie port: XDP would answer "
                                                "its SYNs itself; balance other ports or protect them with "
                                                "lb.new_flow_limit", p, s.name));
        n_backends += s.backends.size();
        out.services.push_back(std::move(s));
    }
    if (out.services.size() > XDPD_LB_MAX_VIPS)
        rep.error(services->value, fmt::format("{} services, at most {}", out.services.size(), XDPD_LB_MAX_VIPS));
    if (n_backends > XDPD_LB_MAX_BACKENDS)
        rep.error(services->value, fmt::format("{} backends in all, at most {}", n_backends, XDPD_LB_MAX_BACKENDS));
}

}  // namespace detail
}  // namespace xdpd::config
