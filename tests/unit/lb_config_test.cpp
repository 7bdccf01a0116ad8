// The `lb` config section: services, backends and health checks; defaults,
// and every error with its position.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "support/config_errors.hpp"

using namespace xdpd::config;

namespace {

const std::string kIf = "interfaces:\n  - name: eth0\n";

using xdpd::test::only_error;

// A service with the given body lines (each indented under "- ").
std::string svc(const std::string& body) { return kIf + "lb:\n  services:\n    - name: web\n" + body; }

TEST(LbConfig, OffWithoutTheSection) {
    auto c = load_string(kIf, "t.yaml");
    EXPECT_FALSE(c.lb.enabled);
    EXPECT_TRUE(c.lb.services.empty());
}

TEST(LbConfig, ServiceDefaultsAndBackends) {
    auto c = load_string(svc("      vip: 10.99.0.1\n      port: 80\n      backends:\n"
                             "        - addr: 10.78.0.11\n          port: 8080\n          weight: 3\n"
                             "        - addr: 10.78.0.12\n"),
                         "t.yaml");
    ASSERT_TRUE(c.lb.enabled);
    ASSERT_EQ(c.lb.services.size(), 1u);
    const auto& s = c.lb.services[0];
    EXPECT_EQ(s.name, "web");
    EXPECT_EQ(s.vip.str(), "10.99.0.1/32");
    EXPECT_EQ(s.proto, 6) << "tcp by default";
    EXPECT_EQ(s.port, 80);
    EXPECT_FALSE(s.dsr) << "nat by default";
    EXPECT_EQ(s.health.type, "tcp") << "TCP services are checked by default";
    EXPECT_EQ(s.health.interval.count(), 2000);
    EXPECT_EQ(s.health.rise, 2u);
    EXPECT_EQ(s.health.fall, 3u);
    ASSERT_EQ(s.backends.size(), 2u);
    EXPECT_EQ(s.backends[0].id(), "10.78.0.11:8080");
    EXPECT_EQ(s.backends[0].weight, 3u);
    EXPECT_EQ(s.backends[1].id(), "10.78.0.12:80") << "the service's port by default";
    EXPECT_EQ(s.backends[1].weight, 1u);
    EXPECT_EQ(s.backends[0].origin, "t.yaml:9");
    EXPECT_EQ(c.lb.udp_timeout.count(), 30);
    EXPECT_EQ(c.lb.new_flow_limit, 0u);
    EXPECT_TRUE(c.lb.any_nat());
}

TEST(LbConfig, UdpDsrIpv6AllPortsAndHealth) {
    auto c = load_string(kIf + "lb:\n  udp_timeout: 90s\n  new_flow_limit: 50k\n  services:\n"
                               "    - {name: dns, vip: 'fd99::1', proto: udp, port: 53, mode: dsr,\n"
                               "       health: {type: udp, payload: ping, expect: pong, interval: 500ms, timeout: 200ms},\n"
                               "       backends: [{addr: 'fd78::11'}, {addr: 'fd78::12', weight: 0}]}\n"
                               "    - {name: any, vip: 10.99.0.2, port: all, mode: dsr, backends: [{addr: 10.78.0.11}]}\n",
                         "t.yaml");
    ASSERT_EQ(c.lb.services.size(), 2u);
    const auto& d = c.lb.services[0];
    EXPECT_EQ(d.proto, 17);
    EXPECT_TRUE(d.dsr);
    EXPECT_EQ(d.vip.family, 6);
    EXPECT_EQ(d.health.type, "udp");
    EXPECT_EQ(d.health.payload, "ping");
    EXPECT_EQ(d.health.expect, "pong");
    EXPECT_EQ(d.health.interval.count(), 500);
    EXPECT_EQ(d.health.timeout.count(), 200);
    EXPECT_EQ(d.backends[0].port, 0) << "DSR never rewrites ports";
    EXPECT_EQ(d.backends[1].weight, 0u) << "weight 0: draining";
    EXPECT_EQ(c.lb.services[1].port, 0) << "all ports";
    EXPECT_EQ(c.lb.services[1].health.type, "tcp");
    EXPECT_EQ(c.lb.udp_timeout.count(), 90);
    EXPECT_EQ(c.lb.new_flow_limit, 50000u);
    EXPECT_FALSE(c.lb.any_nat());
}

TEST(LbConfig, Errors) {
    EXPECT_EQ(only_error(svc("      port: 80\n")),
              "t.yaml:5:7: error: service needs a 'vip': the address clients connect to (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.0/24\n      port: 80\n")),
              "t.yaml:6:12: error: vip must be one address, not the prefix 10.99.0.0/24 (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      proto: icmp\n")),
              "t.yaml:8:14: error: proto must be tcp or udp, got 'icmp'; did you mean 'tcp'? (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: all\n")),
              "t.yaml:7:13: error: a service of all ports needs mode: dsr (NAT recognises replies by the "
              "backend's port) (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      backends:\n        - addr: 'fd78::1'\n")),
              "t.yaml:9:17: error: backend fd78::1/128 is IPv6, the service's VIP is IPv4: a packet keeps its IP "
              "version (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      mode: dsr\n      backends:\n"
                             "        - {addr: 10.78.0.11, port: 8080}\n")),
              "t.yaml:10:36: error: in DSR mode the backend answers on the service's port 80; DSR cannot change "
              "ports (use mode: nat) (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      backends:\n"
                             "        - {addr: 10.78.0.11, weight: 1001}\n")),
              "t.yaml:9:38: error: weight 1001 is out of range 0-1000 (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      backends:\n"
                             "        - {addr: 10.78.0.11}\n        - {addr: 10.78.0.11}\n")),
              "t.yaml:10:11: error: backend 10.78.0.11:80 is listed twice (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      health: {type: http, timeout: 3s}\n")),
              "t.yaml:8:15: error: health timeout (3000 ms) is longer than its interval (2000 ms) (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      proto: udp\n      health: {type: http}\n")),
              "t.yaml:9:15: error: an http health check needs a TCP service (lb service 1)");
    EXPECT_EQ(only_error(svc("      vip: 10.99.0.1\n      port: 80\n      health: {interval: soon}\n")),
              "t.yaml:8:26: error: interval 'soon' is not a positive duration (e.g. 500ms, 2s) (lb service 1)");
}

TEST(LbConfig, CrossChecks) {
    const std::string two = kIf + "lb:\n  services:\n"
                                  "    - {name: a, vip: 10.99.0.1, port: 80, backends: [{addr: 10.78.0.11, port: 8080}]}\n";
    EXPECT_EQ(only_error(two + "    - {name: a, vip: 10.99.0.2, port: 80}\n"),
              "t.yaml:6:7: error: service name 'a' is used twice");
    EXPECT_EQ(only_error(two + "    - {name: b, vip: 10.99.0.1, port: 80}\n"),
              "t.yaml:6:7: error: service 'b' has the same VIP, protocol and port as 'a'");
    EXPECT_EQ(only_error(two + "    - {name: b, vip: 10.99.0.2, port: 80, backends: [{addr: 10.78.0.11, port: 8080}]}\n"),
              "t.yaml:6:7: error: NAT backend 10.78.0.11:8080 (tcp) also serves 'a': replies from it could not be "
              "told apart; give each service its own backend port");
    EXPECT_NO_THROW(load_string(two + "    - {name: b, vip: 10.99.0.1, port: 80, proto: udp, "
                                      "backends: [{addr: 10.78.0.11, port: 8080}]}\n",
                                "t.yaml"))
        << "the same backend address and port over another protocol is fine";
    EXPECT_EQ(only_error(kIf + "syncookies: {ports: [80]}\n" + two.substr(kIf.size())),
              "t.yaml:6:7: error: TCP port 80 of service 'a' is a SYN cookie port: XDP would answer its SYNs "
              "itself; balance other ports or protect them with lb.new_flow_limit");
    EXPECT_EQ(only_error(kIf + "lb: {}\n"), "t.yaml:3:5: error: lb needs 'services': the VIPs to balance");
}

}  // namespace
