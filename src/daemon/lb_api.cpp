#include "daemon/lb_api.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "lb/installer.hpp"

namespace xdpd::daemon {

// Health check targets of the config's LB services (key: lb::backend_key).
std::vector<lb::HealthTarget> health_targets(const config::LbConfig& cfg) {
    std::vector<lb::HealthTarget> out;
    if (!cfg.enabled) return out;
    for (const auto& s : cfg.services)
        for (const auto& b : s.backends) {
            lb::HealthTarget t;
            t.key = lb::backend_key(s, b);
            char buf[64] = {};
            inet_ntop(b.addr.family == 4 ? AF_INET : AF_INET6, b.addr.addr.data(), buf, sizeof buf);
            t.addr = buf;
            t.port = b.port ? b.port : s.port;
            const auto& h = s.health;
            using T = lb::HealthCheckSpec::Type;
            t.spec.type = h.type == "tcp" ? T::tcp : h.type == "http" ? T::http : h.type == "udp" ? T::udp : T::none;
            if (!t.port && t.spec.type != T::none && !h.port) t.spec.type = T::none;  // all ports, no check port
            t.spec.interval = h.interval;
            t.spec.timeout = h.timeout;
            t.spec.rise = h.rise;
            t.spec.fall = h.fall;
            t.spec.port = h.port;
            t.spec.http_path = h.path;
            t.spec.http_status = h.status;
            t.spec.http_host = h.host;
            t.spec.udp_payload = h.payload;
            t.spec.udp_expect = h.expect;
            out.push_back(std::move(t));
        }
    return out;
}

nlohmann::json LbApi::handle(const nlohmann::json& req) {
    const std::string op = req.value("op", "status");
    if (op == "status") return {{"services", dp_->lb_status()}, {"health", health_.status()}};
    if (op == "lookup")
        return dp_->lb_lookup(req.value("proto", "tcp"), req.at("src").get<std::string>(),
                              req.at("sport").get<uint16_t>(), req.at("dst").get<std::string>(),
                              req.at("dport").get<uint16_t>());
    if (op == "add" || op == "remove") return membership(op, req);
    if (op == "weight") {
        const std::string svc = req.at("service").get<std::string>(), be = req.at("backend").get<std::string>();
        const config::LbConfig eff = lb::effective(cfg_.lb, dp_->lb_state());
        const config::LbServiceConfig* s = nullptr;
        for (const auto& x : eff.services)
            if (x.name == svc) s = &x;
        if (!s) throw std::runtime_error("no lb service named '" + svc + "'");
        // The backend by its id ("10.78.0.11:8080", "[fd78::11]:8080") or its
        // address alone (IPv6 with or without brackets).
        const config::LbBackendConfig* b = nullptr;
        for (const auto& x : s->backends) {
            const std::string id = x.id(), addr = id.substr(0, id.rfind(':'));
            if (id == be || addr == be ||
                (addr.size() > 2 && addr.front() == '[' && addr.substr(1, addr.size() - 2) == be))
                b = &x;
        }
        if (!b) throw std::runtime_error("service '" + svc + "' has no backend " + be);
        const std::string key = lb::backend_key(*s, *b);
        if (req.contains("weight") && !req["weight"].is_null()) {
            const auto w = req["weight"].get<int64_t>();
            if (w < 0 || w > 1000) throw std::runtime_error("weight must be 0-1000");
            dp_->lb_state().weights[key] = unsigned(w);
            spdlog::info("lb: {} weight set to {}{}", key, w, w == 0 ? " (draining: no new flows)" : "");
        } else {
            dp_->lb_state().weights.erase(key);
            spdlog::info("lb: {} weight back to the config's {}", key, b->weight);
        }
        nlohmann::json notes = dp_->lb_refresh();
        return {{"backend", key}, {"weight", req.value("weight", nlohmann::json(b->weight))}, {"notes", notes}};
    }
    throw std::runtime_error("unknown lb operation '" + op + "' (status, lookup, weight, add, remove)");
}

// Adds or removes a backend of a service live. The same checks as the
// config's: IP version, ports in DSR, one NAT service per backend.
nlohmann::json LbApi::membership(const std::string& op, const nlohmann::json& req) {
    const std::string svc = req.at("service").get<std::string>(), text = req.at("backend").get<std::string>();
    auto& st = dp_->lb_state();
    const config::LbConfig eff = lb::effective(cfg_.lb, st);
    const config::LbServiceConfig* s = nullptr;
    for (const auto& x : eff.services)
        if (x.name == svc) s = &x;
    if (!s) throw std::runtime_error("no lb service named '" + svc + "'");
    // ADDR, ADDR:PORT or [ADDR6]:PORT
    std::string addr = text, port_text;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos) throw std::runtime_error("'" + text + "': missing ']'");
        addr = text.substr(1, close - 1);
        if (close + 1 < text.size() && text[close + 1] == ':') port_text = text.substr(close + 2);
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        addr = text.substr(0, text.find(':'));
        port_text = text.substr(text.find(':') + 1);
    }
    std::string why;
    auto a = fw::Cidr::parse(addr, &why);
    if (!a || a->prefix != (a->family == 4 ? 32 : 128))
        throw std::runtime_error("'" + addr + "' is not one address" + (why.empty() ? "" : ": " + why));
    config::LbBackendConfig b;
    b.addr = *a;
    b.port = s->dsr ? 0 : s->port;
    b.origin = "api";
    if (!port_text.empty()) {
        int p = 0;
        try {
            p = std::stoi(port_text);
        } catch (const std::exception&) {
        }
        if (p < 1 || p > 65535) throw std::runtime_error("'" + port_text + "' is not a port (1-65535)");
        if (s->dsr && p != s->port)
            throw std::runtime_error("in DSR mode a backend answers on the service's port " +
                                     std::to_string(s->port));
        if (!s->dsr) b.port = uint16_t(p);
    }
    const std::string key = lb::backend_key(*s, b);
    bool listed = false;
    for (const auto& x : s->backends) listed |= lb::backend_key(*s, x) == key;
    if (op == "remove") {
        if (!listed) throw std::runtime_error("service '" + svc + "' has no backend " + b.id());
        auto& extra = st.added[svc];
        const size_t before = extra.size();
        std::erase_if(extra, [&](const auto& x) { return lb::backend_key(*s, x) == key; });
        if (extra.size() == before) st.removed.insert(key);  // one of the config's
        st.weights.erase(key);
        spdlog::info("lb: backend {} removed from {} (until the daemon restarts)", b.id(), svc);
    } else {
        if (listed) throw std::runtime_error("service '" + svc + "' already has backend " + b.id());
        if (b.addr.family != s->vip.family)
            throw std::runtime_error("backend " + b.id() + " and the VIP are of different IP versions");
        if (req.contains("weight")) {
            const auto w = req["weight"].get<int64_t>();
            if (w < 0 || w > 1000) throw std::runtime_error("weight must be 0-1000");
            b.weight = unsigned(w);
        }
        size_t total = 0;
        for (const auto& x : eff.services) {
            total += x.backends.size();
            if (!s->dsr && !x.dsr && x.name != s->name && x.proto == s->proto)
                for (const auto& y : x.backends)
                    if (y.id() == b.id())
                        throw std::runtime_error("NAT backend " + b.id() + " already serves '" + x.name + "'");
        }
        if (total >= XDPD_LB_MAX_BACKENDS) throw std::runtime_error("the load balancer is full (4096 backends)");
        if (!st.removed.erase(key)) st.added[svc].push_back(b);  // back in the config's set, or a new one
        spdlog::info("lb: backend {} added to {} with weight {} (until the daemon restarts)", b.id(), svc,
                     b.weight);
    }
    health_.set_targets(health_targets(lb::effective(cfg_.lb, st)));
    nlohmann::json notes = dp_->lb_refresh();
    return {{"service", svc}, {"backend", b.id()}, {op == "add" ? "added" : "removed", true}, {"notes", notes}};
}

void LbApi::retarget() { health_.set_targets(health_targets(lb::effective(cfg_.lb, dp_->lb_state()))); }

}  // namespace xdpd::daemon
