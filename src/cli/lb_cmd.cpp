// `xdpd lb`: the load balancer's services and backends (weights, health, ring
// shares, counters), live weight changes, and which backend a flow goes to.
#include <fmt/format.h>

#include <iostream>

#include "api/socket.hpp"
#include "cli/commands.hpp"

namespace xdpd::cli {
namespace {

// "10.0.0.1:80" or "[fd00::1]:80" -> (address, port).
std::pair<std::string, uint16_t> split_endpoint(const std::string& text) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw std::runtime_error("'" + text + "' is not ADDRESS:PORT (IPv6: [ADDRESS]:PORT)");
    std::string addr = text.substr(0, colon);
    if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    unsigned long port = 0;
    try {
        size_t used = 0;
        port = std::stoul(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1) port = 0;
    } catch (const std::exception&) {
    }
    if (port == 0 || port > 65535) throw std::runtime_error("'" + text + "': the port must be 1-65535");
    return {addr, uint16_t(port)};
}

int show(const Common& c) {
    auto j = api::call(c.socket, {{"cmd", "lb"}, {"op", "status"}});
    if (c.json) {
        std::cout << j.dump(2) << std::endl;
        return 0;
    }
    if (j["services"].empty()) {
        std::cout << "no load-balanced services (no `lb` section in the config)\n";
        return 0;
    }
    std::map<std::string, nlohmann::json> health;
    for (const auto& h : j["health"]) health[h.value("key", "")] = h;
    for (const auto& s : j["services"]) {
        const unsigned port = s.value("port", 0u);
        std::string vip = s.value("vip", "");
        if (vip.find(':') != std::string::npos) vip = "[" + vip + "]";
        std::cout << fmt::format("{} {} {}:{} ({}): {} packets, {} new flows, table hit/miss {}/{}, "
                                 "no backend {}, no route {}\n",
                                 s.value("name", ""), s.value("proto", ""), vip,
                                 port ? std::to_string(port) : std::string("*"), s.value("mode", ""),
                                 s.value("packets", 0), s.value("new_flows", 0), s.value("table_hit", 0),
                                 s.value("table_miss", 0), s.value("no_backend", 0), s.value("no_route", 0));
        std::cout << fmt::format("  {:<26} {:>6} {:>6} {:>7} {:>12} {:>10} {:>12}  {}\n", "backend", "weight",
                                 "health", "ring", "packets", "new flows", "replies", "last check");
        for (const auto& b : s["backends"]) {
            const auto& h = health[s.value("name", "") + "/" + b.value("backend", "")];
            std::string last = h.is_null() ? "-" : h.value("last_error", std::string());
            if (!h.is_null() && last.empty()) last = h.value("type", "") == "none" ? "not checked" : "ok";
            std::cout << fmt::format("  {:<26} {:>6} {:>6} {:>6.1f}% {:>12} {:>10} {:>12}  {}\n",
                                     b.value("backend", ""), b.value("weight", 0u), b.value("health", ""),
                                     100.0 * b.value("ring_share", 0.0), b.value("packets", 0),
                                     b.value("new_flows", 0), b.value("reply_packets", 0), last);
        }
    }
    return 0;
}

}  // namespace

int cmd_lb(const Common& c, const LbOptions& o) {
    if (o.op == "show") return show(c);
    nlohmann::json req = {{"cmd", "lb"}};
    if (o.op == "lookup") {
        if (o.args.size() != 3)
            throw std::runtime_error("usage: xdpd lb lookup tcp|udp SRC:SPORT VIP:PORT");
        auto [src, sport] = split_endpoint(o.args[1]);
        auto [dst, dport] = split_endpoint(o.args[2]);
        req.update({{"op", "lookup"}, {"proto", o.args[0]}, {"src", src}, {"sport", sport}, {"dst", dst},
                    {"dport", dport}});
        auto j = api::call(c.socket, req);
        if (c.json) {
            std::cout << j.dump(2) << std::endl;
        } else if (j["service"].is_null()) {
            std::cout << fmt::format("{}: {} ({})\n", j.value("flow", ""), j.value("note", ""), j.value("verdict", ""));
        } else {
            std::cout << fmt::format("{}: service {} -> backend {} (from the {}; verdict {})\n", j.value("flow", ""),
                                     j.value("service", ""),
                                     j["backend"].is_null() ? "none in service" : j["backend"].get<std::string>(),
                                     j.value("from", ""), j.value("verdict", ""));
        }
        return 0;
    }
    if (o.op == "weight" || o.op == "drain" || o.op == "undrain") {
        const size_t need = o.op == "weight" ? 3 : 2;
        if (o.args.size() != need)
            throw std::runtime_error(o.op == "weight" ? "usage: xdpd lb weight SERVICE BACKEND WEIGHT|config"
                                                      : "usage: xdpd lb " + o.op + " SERVICE BACKEND");
        req.update({{"op", "weight"}, {"service", o.args[0]}, {"backend", o.args[1]}});
        if (o.op == "drain") req["weight"] = 0;
        if (o.op == "weight" && o.args[2] != "config") {
            try {
                req["weight"] = std::stoi(o.args[2]);
            } catch (const std::exception&) {
                throw std::runtime_error("weight must be a number 0-1000 or 'config'");
            }
        }
        auto j = api::call(c.socket, req);
        if (c.json)
            std::cout << j.dump(2) << std::endl;
        else
            std::cout << fmt::format("{}: weight {}\n", j.value("backend", ""), j["weight"].dump());
        return 0;
    }
    if (o.op == "add" || o.op == "remove") {
        if (o.args.size() < 2 || o.args.size() > (o.op == "add" ? 3u : 2u))
            throw std::runtime_error(o.op == "add" ? "usage: xdpd lb add SERVICE ADDR[:PORT] [WEIGHT]"
                                                   : "usage: xdpd lb remove SERVICE ADDR[:PORT]");
        req.update({{"op", o.op}, {"service", o.args[0]}, {"backend", o.args[1]}});
        if (o.args.size() == 3) {
            try {
                req["weight"] = std::stoi(o.args[2]);
            } catch (const std::exception&) {
                throw std::runtime_error("weight must be a number 0-1000");
            }
        }
        auto j = api::call(c.socket, req);
        if (c.json)
            std::cout << j.dump(2) << std::endl;
        else
            std::cout << fmt::format("{}: backend {} {}\n", j.value("service", ""), j.value("backend", ""),
                                     o.op == "add" ? "added" : "removed");
        return 0;
    }
    throw std::runtime_error("unknown lb operation '" + o.op + "' (show, lookup, weight, drain, undrain, add, remove)");
}

}  // namespace xdpd::cli
