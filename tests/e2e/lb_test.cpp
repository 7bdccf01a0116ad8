// The load balancer end to end: real TCP and UDP from the client namespace to
// VIPs served by xdpd on lb0, answered by ordinary servers in three backend
// namespaces. Assertions are on outcomes (which backend answered, whether a
// held connection still echoes), never on speed; spreads are checked with
// wide margins (several standard deviations).
#include "e2e/lb_fixture.hpp"

#include <algorithm>
#include <set>

#include "net/ping.hpp"

namespace xdpd::test {
namespace {

constexpr auto kTimeout = 5s;  // per request; a loaded 2-vCPU VM is slow, not lossy
const std::string kNoHealth = "      health:\n        type: none\n";
// Fast TCP health checks: down after 2 failures, up after 2 successes, 200 ms apart.
const std::string kFastHealth =
    "      health:\n        type: tcp\n        interval: 200ms\n        timeout: 200ms\n        rise: 2\n"
    "        fall: 2\n";

// Where each connection went, for messages: "be1 x20, be2 x19, failed x1".
std::string describe_held(const std::vector<std::string>& names, const std::vector<bool>& ok) {
    std::map<std::string, std::pair<int, int>> m;  // name -> (ok, failed)
    for (size_t i = 0; i < names.size(); ++i) {
        auto& e = m[names[i].empty() ? "(not opened)" : names[i]];
        (i < ok.size() && ok[i] ? e.first : e.second)++;
    }
    std::string s;
    for (const auto& [n, c] : m) s += fmt::format("{}{}: {} echo, {} failed", s.empty() ? "" : "; ", n, c.first, c.second);
    return s;
}

// Held connections whose backend is one of `names`: how many still echo, of how many.
std::pair<int, int> surviving(const net::HeldConnections& held, const std::vector<bool>& ok,
                              std::initializer_list<const char*> names) {
    int alive = 0, of = 0;
    for (int i = 0; i < held.size(); ++i)
        for (const char* n : names)
            if (held.names()[size_t(i)] == n) {
                ++of;
                alive += ok[size_t(i)];
            }
    return {alive, of};
}

std::vector<uint16_t> port_range(uint16_t first, int n) {
    std::vector<uint16_t> v;
    for (int i = 0; i < n; ++i) v.push_back(uint16_t(first + i));
    return v;
}

TEST_F(LbDaemon, NatSpreadsTcpAndUdpByWeight) {
    write_config("  services:\n" +
                 service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 2, 3}, kTcpPort) +
                 service("dns", LbLab::vip(4), "udp", 53, "nat", {1, 1, 1}, kUdpPort, 4,
                         "      health:\n        type: none\n"));
    start();
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 600, 2s, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors) << "\n" << daemon_->call({{"cmd", "stats"}})["interfaces"][0]["reasons"].dump();
    ASSERT_EQ(count["be1"] + count["be2"] + count["be3"], 600) << net::describe_names(names);
    // weights 1:2:3 of 600 flows: 100/200/300, each within 40%
    EXPECT_NEAR(count["be1"], 100, 40) << net::describe_names(names);
    EXPECT_NEAR(count["be2"], 200, 60) << net::describe_names(names);
    EXPECT_NEAR(count["be3"], 300, 70) << net::describe_names(names);

    auto unames = net::whoami_udp_many(lab_.client(), LbLab::vip(4), 53, 300, 2s, &errors);
    auto ucount = net::count_names(unames);
    EXPECT_EQ(ucount[""], 0) << net::describe_errors(errors);
    for (const char* b : {"be1", "be2", "be3"}) EXPECT_NEAR(ucount[b], 100, 45) << net::describe_names(unames);
    auto st = daemon_->call({{"cmd", "status"}})["lb"];
    EXPECT_EQ(st["services"], 2);
    EXPECT_EQ(st["backends"], 6);
    EXPECT_EQ(st["up"], 6);
    EXPECT_GE(st["flows"].get<int>(), 600) << "TCP flows in the connection table";
    EXPECT_GE(st["forwarded"].get<uint64_t>(), 600u * 3);
    EXPECT_GE(st["replies"].get<uint64_t>(), 600u * 2);
    auto show = net::exec(nullptr, {XDPD_BINARY, "--netns", lab_.lb().name(), "--socket", paths_.socket, "lb"});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    EXPECT_NE(show.out.find("web tcp 10.99.0.1:80 (nat)"), std::string::npos) << show.out;
    std::fprintf(stderr, "%s", show.out.c_str());
}

// 1. NAT over IPv6: the same as above with fd99::1 and the backends' fd78:: addresses.
TEST_F(LbDaemon, NatIpv6SpreadsTcpAndUdpByWeight) {
    write_config("  services:\n" + service("web6", LbLab::vip(6), "tcp", 80, "nat", {3, 2, 1}, kTcpPort, 6) +
                 service("dns6", LbLab::vip(6), "udp", 53, "nat", {1, 1, 2}, kUdpPort, 6, kNoHealth));
    start();
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(6), 80, 600, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    ASSERT_EQ(count["be1"] + count["be2"] + count["be3"], 600) << net::describe_names(names);
    EXPECT_NEAR(count["be1"], 300, 70) << net::describe_names(names);
    EXPECT_NEAR(count["be2"], 200, 60) << net::describe_names(names);
    EXPECT_NEAR(count["be3"], 100, 40) << net::describe_names(names);

    auto unames = net::whoami_udp_many(lab_.client(), LbLab::vip(6), 53, 400, kTimeout, &errors);
    auto ucount = net::count_names(unames);
    EXPECT_EQ(ucount[""], 0) << net::describe_errors(errors);
    EXPECT_NEAR(ucount["be1"], 100, 45) << net::describe_names(unames);
    EXPECT_NEAR(ucount["be2"], 100, 45) << net::describe_names(unames);
    EXPECT_NEAR(ucount["be3"], 200, 60) << net::describe_names(unames);

    const auto web6 = lb_service("web6");
    EXPECT_GT(web6["reply_packets"].get<uint64_t>(), 0u) << "NAT replies come back through the LB";
    EXPECT_EQ(web6["no_route"], 0);
    EXPECT_GT(reason_packets("lb_reply"), 0u);
}

// 2. DSR, IPv4 and IPv6, TCP and UDP: the backends hold the VIPs and answer
// the client directly, so the LB forwards requests and never sees a reply.
TEST_F(LbDaemon, DsrIpv4AndIpv6RepliesBypassTheLb) {
    lab_.enable_dsr({LbLab::vip(4), LbLab::vip(6)});
    // DSR keeps ports: the services listen on the servers' ports.
    write_config("  services:\n" + service("web4", LbLab::vip(4), "tcp", kTcpPort, "dsr", {1, 1, 1}, 0, 4) +
                 service("web6", LbLab::vip(6), "tcp", kTcpPort, "dsr", {1, 1, 2}, 0, 6) +
                 service("dns4", LbLab::vip(4), "udp", kUdpPort, "dsr", {1, 1, 1}, 0, 4, kNoHealth) +
                 service("dns6", LbLab::vip(6), "udp", kUdpPort, "dsr", {2, 1, 1}, 0, 6, kNoHealth));
    start();
    struct Case {
        const char* svc;
        int version;
        bool tcp;
        std::vector<int> expect;  // of 400
    };
    for (const Case& c : {Case{"web4", 4, true, {133, 133, 133}}, Case{"web6", 6, true, {100, 100, 200}},
                          Case{"dns4", 4, false, {133, 133, 133}}, Case{"dns6", 6, false, {200, 100, 100}}}) {
        SCOPED_TRACE(c.svc);
        std::vector<int> errors;
        auto names = c.tcp ? net::whoami_tcp_many(lab_.client(), LbLab::vip(c.version), kTcpPort, 400, kTimeout, &errors)
                           : net::whoami_udp_many(lab_.client(), LbLab::vip(c.version), kUdpPort, 400, kTimeout, &errors);
        auto count = net::count_names(names);
        EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
        for (int i = 0; i < 3; ++i)
            EXPECT_NEAR(count[LbLab::backend_name(i)], c.expect[size_t(i)], 55) << net::describe_names(names);
        const auto s = lb_service(c.svc);
        EXPECT_GE(s["packets"].get<uint64_t>(), 400u) << "every request went through the LB";
        EXPECT_EQ(s["reply_packets"], 0) << "a DSR reply bypasses the LB";
        for (const auto& b : s["backends"]) EXPECT_EQ(b["reply_packets"], 0) << b.dump();
    }
    EXPECT_EQ(reason_packets("lb_reply"), 0u);
    EXPECT_GE(reason_packets("lb_forward"), 1600u);
}

// 3. Drain (CLI): no new flows for the drained backend, but every established
// connection, also those on it, keeps working; undrain brings it back.
TEST_F(LbDaemon, DrainStopsNewFlowsAndKeepsEstablishedOnes) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort));
    start();
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 60, kTimeout);
    ASSERT_EQ(held.opened(), 60) << net::describe_errors(held.open_errors());
    ASSERT_GE(count_in(held.names(), {"be2"}), 5) << net::describe_names(held.names());

    auto r = daemon_->cli({"lb", "drain", "web", LbLab::backend_addr(1)});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["weight"], 0);
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["ring_share"], 0.0);
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_EQ(count["be2"], 0) << net::describe_names(names);
    EXPECT_NEAR(count["be1"], 150, 50) << net::describe_names(names);
    auto ok = held.check(kTimeout);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 60)
        << describe_held(held.names(), ok) << "; " << net::describe_errors(held.check_errors());

    r = daemon_->cli({"lb", "undrain", "web", LbLab::backend_addr(1)});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["weight"], 1);
    names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_NEAR(count["be2"], 100, 45) << net::describe_names(names);
    ok = held.check(kTimeout);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 60) << describe_held(held.names(), ok);
}

// 4. A live weight change (API): new flows follow it, established ones stay.
TEST_F(LbDaemon, LiveWeightChangeSteersNewFlowsOnly) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort));
    start();
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 60, kTimeout);
    ASSERT_EQ(held.opened(), 60) << net::describe_errors(held.open_errors());

    auto j = daemon_->call({{"cmd", "lb"}, {"op", "weight"}, {"service", "web"},
                            {"backend", LbLab::backend_addr(2)}, {"weight", 4}});
    EXPECT_EQ(j["weight"], 4) << j.dump();
    const auto be3 = lb_backend("web", LbLab::backend_addr(2));
    EXPECT_EQ(be3["weight"], 4);
    EXPECT_EQ(be3["config_weight"], 1);
    EXPECT_NEAR(be3["ring_share"].get<double>(), 4.0 / 6, 0.01);

    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 600, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_NEAR(count["be1"], 100, 40) << net::describe_names(names);
    EXPECT_NEAR(count["be2"], 100, 40) << net::describe_names(names);
    EXPECT_NEAR(count["be3"], 400, 60) << net::describe_names(names);
    auto ok = held.check(kTimeout);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 60)
        << describe_held(held.names(), ok) << "; " << net::describe_errors(held.check_errors());
}

// 5. Health checks: a backend whose server dies goes down (status, event),
// its flows move to the others and only its flows move; it comes back when
// the server does, and then about a third of the flows move back.
TEST_F(LbDaemon, HealthCheckTakesADeadBackendOutAndBackIn) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort, 4, kFastHealth));
    start();
    const std::string be2 = LbLab::backend_addr(1) + ":" + std::to_string(kTcpPort);
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 60, kTimeout);
    ASSERT_EQ(held.opened(), 60) << net::describe_errors(held.open_errors());
    // Established flows with known ports, one test of "only the dead one's flows move" on the table.
    PortedConnections ported(lab_.client(), LbLab::client_addr(4), port_range(20001, 30), LbLab::vip(4), 80);
    constexpr int kFlows = 1500;
    const auto before = ring_of("tcp", LbLab::vip(4), 80, kFlows);
    ASSERT_EQ(count_in(before, {"be1", "be2", "be3"}), kFlows);

    tcp_[1].stop();
    ASSERT_TRUE(wait_for([&] { return !events("backend_down", be2).empty(); }))
        << daemon_->call({{"cmd", "events"}}).dump(1);
    EXPECT_EQ(events("backend_down", be2)[0]["watch"], "web");
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["health"], "down");
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["ring_share"], 0.0);
    EXPECT_TRUE(events("backend_down", LbLab::backend_addr(0) + ":8080").empty());

    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_EQ(count["be2"], 0) << net::describe_names(names);
    auto ok = held.check(kTimeout);
    auto [alive, of] = surviving(held, ok, {"be1", "be3"});
    EXPECT_EQ(alive, of) << describe_held(held.names(), ok);
    EXPECT_GT(of, 20);
    auto pok = ported.check(kTimeout);
    for (size_t i = 0; i < pok.size(); ++i) {
        if (ported.names()[i] != "be2") {
            EXPECT_TRUE(pok[i]) << "port " << ported.sports()[i] << " on " << ported.names()[i];
        }
    }

    // Minimal disruption in the ring: every flow of be2 moved, (almost) no other did.
    const auto down = ring_of("tcp", LbLab::vip(4), 80, kFlows);
    int of_be2 = 0, moved_be2 = 0, others = 0, moved_others = 0;
    for (int i = 0; i < kFlows; ++i) {
        if (before[size_t(i)] == "be2") {
            ++of_be2;
            moved_be2 += down[size_t(i)] == "be1" || down[size_t(i)] == "be3";
        } else {
            ++others;
            moved_others += down[size_t(i)] != before[size_t(i)];
        }
    }
    std::fprintf(stderr, "ring flows: %d of be2 (%d moved), %d of be1/be3 (%d moved, %.2f%%)\n", of_be2, moved_be2,
                 others, moved_others, 100.0 * moved_others / others);
    EXPECT_EQ(moved_be2, of_be2);
    EXPECT_NEAR(of_be2, kFlows / 3, kFlows / 10);
    // Maglev rebuilds the table: besides be2's entries a few others may change
    // hands (here ~0.1% of the table; its paper: a few percent). Connections
    // in the table never move (the ported ones above).
    EXPECT_LE(moved_others, others / 100) << "more than 1% of the healthy backends' flows moved";

    // The server comes back on the same port.
    std::optional<net::WhoamiTcpServer> again;
    again.emplace(lab_.backend(1), kTcpPort, LbLab::backend_name(1));
    ASSERT_TRUE(wait_for([&] { return !events("backend_up", be2).empty(); }))
        << daemon_->call({{"cmd", "events"}}).dump(1);
    EXPECT_EQ(lb_backend("web", LbLab::backend_addr(1))["health"], "up");
    names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_NEAR(count["be2"], 100, 45) << net::describe_names(names);
    ok = held.check(kTimeout);
    std::tie(alive, of) = surviving(held, ok, {"be1", "be3"});
    EXPECT_EQ(alive, of) << describe_held(held.names(), ok);

    // The ring is the one from before (it depends only on the backends), so
    // exactly the flows that left be2 return: about a third.
    const auto up = ring_of("tcp", LbLab::vip(4), 80, kFlows);
    int back = 0, differ = 0;
    for (int i = 0; i < kFlows; ++i) {
        back += up[size_t(i)] != down[size_t(i)];
        differ += up[size_t(i)] != before[size_t(i)];
    }
    std::fprintf(stderr, "ring flows after recovery: %d of %d moved (%.1f%%), %d differ from before\n", back, kFlows,
                 100.0 * back / kFlows, differ);
    EXPECT_EQ(differ, 0);
    EXPECT_NEAR(back, kFlows / 3, kFlows / 10);
}

// 6. Reload: a 4th service and one backend fewer for another; established
// connections to the remaining backends survive, the removed one gets nothing new.
TEST_F(LbDaemon, ReloadAddsAServiceAndRemovesABackend) {
    std::vector<net::WhoamiTcpServer> tcp2;  // web2's backends, port 8081 (NAT backends are per service)
    for (int i = 0; i < lab_.n_backends(); ++i) tcp2.emplace_back(lab_.backend(i), 8081, LbLab::backend_name(i));
    const std::string three = service("dns", LbLab::vip(4), "udp", 53, "nat", {1, 1, 1}, kUdpPort, 4, kNoHealth) +
                              service("web6", LbLab::vip(6), "tcp", 80, "nat", {1, 1, 1}, kTcpPort, 6);
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort) + three);
    start();
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 60, kTimeout);
    ASSERT_EQ(held.opened(), 60) << net::describe_errors(held.open_errors());
    net::HeldConnections held6(lab_.client(), LbLab::vip(6), 80, 30, kTimeout);
    ASSERT_EQ(held6.opened(), 30) << net::describe_errors(held6.open_errors());
    const auto index_before = lb_service("web")["index"];

    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1}, kTcpPort) + three +
                 service("web2", LbLab::vip(4, 1), "tcp", 80, "nat", {1, 1, 1}, 8081));
    auto j = daemon_->call({{"cmd", "reload"}});
    std::fprintf(stderr, "reload: %s\n", j.dump().c_str());
    ASSERT_EQ(lb_status()["services"].size(), 4u);
    EXPECT_EQ(lb_service("web")["index"], index_before);
    EXPECT_EQ(lb_service("web")["backends"].size(), 2u);

    auto ok = held.check(kTimeout);
    auto [alive, of] = surviving(held, ok, {"be1", "be2"});
    EXPECT_EQ(alive, of) << describe_held(held.names(), ok);
    EXPECT_GT(of, 20);
    auto ok6 = held6.check(kTimeout);
    EXPECT_EQ(std::count(ok6.begin(), ok6.end(), true), 30) << "another service's connections: "
                                                             << describe_held(held6.names(), ok6);

    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_EQ(count["be3"], 0) << net::describe_names(names);
    EXPECT_NEAR(count["be1"], 150, 50) << net::describe_names(names);

    names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4, 1), 80, 300, kTimeout, &errors);
    count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << "the new service: " << net::describe_errors(errors);
    for (const char* b : {"be1", "be2", "be3"}) EXPECT_NEAR(count[b], 100, 45) << net::describe_names(names);
    for (auto& s : tcp2) EXPECT_GT(s.accepted(), 50u);
}

// 7. kill -9 and a restart with the same config: the data plane kept
// serving, the daemon adopts it unchanged (VIP indices, backend slots, rings).
TEST_F(LbDaemon, RestartAfterCrashKeepsFlowsSlotsAndRings) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 2, 1}, kTcpPort) +
                 service("dns", LbLab::vip(4), "udp", 53, "nat", {1, 1, 1}, kUdpPort, 4, kNoHealth) +
                 service("web6", LbLab::vip(6), "tcp", 80, "nat", {1, 1, 1}, kTcpPort, 6));
    start();
    net::HeldConnections held(lab_.client(), LbLab::vip(4), 80, 60, kTimeout);
    ASSERT_EQ(held.opened(), 60) << net::describe_errors(held.open_errors());
    PortedConnections ported(lab_.client(), LbLab::client_addr(4), port_range(21001, 10), LbLab::vip(4), 80);
    auto slots = [this] {
        std::map<std::string, int> m;  // "web" -> index, "web/10.78.0.11:8080" -> slot
        const auto st = lb_status();
        for (const auto& s : st["services"]) {
            m[s["name"]] = s["index"];
            for (const auto& b : s["backends"]) m[s["name"].get<std::string>() + "/" + b["backend"].get<std::string>()] = b["slot"];
        }
        return m;
    };
    const auto slots_before = slots();
    ASSERT_EQ(slots_before.size(), 3u + 9u);
    const auto ring4 = ring_of("tcp", LbLab::vip(4), 80, 300), ring6 = ring_of("tcp", LbLab::vip(6), 80, 300);
    std::vector<Lookup> table;
    for (uint16_t p : ported.sports()) table.push_back(lookup("tcp", LbLab::client_addr(4), p, LbLab::vip(4), 80));

    daemon_->kill9();
    auto ok = held.check(kTimeout);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 60) << "without the daemon: " << describe_held(held.names(), ok);
    std::vector<int> errors;
    auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 100, kTimeout, &errors);
    EXPECT_EQ(net::count_names(names)[""], 0) << "new flows without the daemon: " << net::describe_errors(errors);

    start();
    EXPECT_EQ(slots(), slots_before);
    EXPECT_EQ(ring_of("tcp", LbLab::vip(4), 80, 300), ring4);
    EXPECT_EQ(ring_of("tcp", LbLab::vip(6), 80, 300), ring6);
    for (size_t i = 0; i < table.size(); ++i) {
        auto l = lookup("tcp", LbLab::client_addr(4), ported.sports()[i], LbLab::vip(4), 80);
        EXPECT_EQ(l.name, ported.names()[i]);
        EXPECT_EQ(l.name, table[i].name);
        EXPECT_EQ(l.from, "connection table");
    }
    ok = held.check(kTimeout);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 60) << "after the restart: " << describe_held(held.names(), ok);
    auto pok = ported.check(kTimeout);
    EXPECT_EQ(std::count(pok.begin(), pok.end(), true), 10);
    names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 300, kTimeout, &errors);
    auto count = net::count_names(names);
    EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
    EXPECT_NEAR(count["be2"], 150, 50) << net::describe_names(names);
    auto unames = net::whoami_udp_many(lab_.client(), LbLab::vip(4), 53, 150, kTimeout, &errors);
    EXPECT_EQ(net::count_names(unames)[""], 0) << net::describe_errors(errors);
}

// 8. `xdpd lb lookup` (CLI) names the backend an established connection reached,
// from the connection table, for IPv4 and IPv6; a fresh flow comes from the ring.
TEST_F(LbDaemon, LookupNamesTheBackendOfAnEstablishedConnection) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort) +
                 service("web6", LbLab::vip(6), "tcp", 80, "nat", {1, 1, 1}, kTcpPort, 6));
    start();
    for (int v : {4, 6}) {
        SCOPED_TRACE(v);
        PortedConnections ported(lab_.client(), LbLab::client_addr(v), port_range(22001, 12), LbLab::vip(v), 80);
        std::set<std::string> seen;
        auto endpoint = [v](const std::string& a, uint16_t p) {
            return v == 4 ? fmt::format("{}:{}", a, p) : fmt::format("[{}]:{}", a, p);
        };
        for (size_t i = 0; i < ported.sports().size(); ++i) {
            ASSERT_FALSE(ported.names()[i].empty()) << "connection from port " << ported.sports()[i];
            seen.insert(ported.names()[i]);
            auto r = daemon_->cli({"lb", "lookup", "tcp", endpoint(LbLab::client_addr(v), ported.sports()[i]),
                                   endpoint(LbLab::vip(v), 80), "--json"});
            ASSERT_TRUE(r.ok()) << r.err;
            auto j = nlohmann::json::parse(r.out);
            EXPECT_EQ(name_of(j["backend"].get<std::string>()), ported.names()[i]) << j.dump();
            EXPECT_EQ(j["from"], "connection table") << j.dump();
            EXPECT_EQ(j["service"], v == 4 ? "web" : "web6");
        }
        EXPECT_GE(seen.size(), 2u) << "12 connections over 3 backends";
        auto r = daemon_->cli({"lb", "lookup", "tcp", endpoint(LbLab::client_addr(v), 23000), endpoint(LbLab::vip(v), 80),
                               "--json"});
        ASSERT_TRUE(r.ok()) << r.err;
        EXPECT_EQ(nlohmann::json::parse(r.out)["from"], "ring (new flow)") << r.out;
        // The table wins over the ring: with every backend but one drained,
        // established flows still name their own backend.
        const std::string keep = LbLab::backend_addr(0, v);
        for (int i = 1; i < 3; ++i)
            ASSERT_TRUE(daemon_->cli({"lb", "drain", v == 4 ? "web" : "web6", LbLab::backend_addr(i, v)}).ok());
        for (size_t i = 0; i < ported.sports().size(); ++i)
            EXPECT_EQ(lookup("tcp", LbLab::client_addr(v), ported.sports()[i], LbLab::vip(v), 80).name, ported.names()[i]);
        EXPECT_EQ(lookup("tcp", LbLab::client_addr(v), 23000, LbLab::vip(v), 80).name, "be1");
        auto ok = ported.check(kTimeout);
        EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 12);
    }
}

// 9. Ping to a VIP (configured nowhere) is answered in XDP.
TEST_F(LbDaemon, PingToAVipIsAnsweredInXdp) {
    write_config("  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort) +
                 service("web6", LbLab::vip(6), "tcp", 80, "nat", {1, 1, 1}, kTcpPort, 6));
    EXPECT_FALSE(net::ping(lab_.client(), LbLab::vip(4), 1, 1s).ok()) << "nobody answers for a VIP without xdpd";
    start();
    for (int v : {4, 6}) {
        auto p = net::ping(lab_.client(), LbLab::vip(v), 3, 10s);
        EXPECT_EQ(p.received, 3) << p.output;
    }
    EXPECT_GE(reason_packets("lb_icmp_echo"), 6u);
    EXPECT_GE(lb_service("web")["icmp_echo"].get<uint64_t>() + lb_service("web6")["icmp_echo"].get<uint64_t>(), 6u);
}

// 10. A reload with a load balancer mistake is refused with its position;
// the running config keeps serving.
TEST_F(LbDaemon, BadLbConfigReloadIsRejectedAndOldConfigKeepsServing) {
    const std::string good = "  services:\n" + service("web", LbLab::vip(4), "tcp", 80, "nat", {1, 1, 1}, kTcpPort);
    write_config(good);
    start();
    auto line_of = [this](const std::string& needle) {
        std::ifstream in(paths_.config);
        std::string l;
        for (int n = 1; std::getline(in, l); ++n)
            if (l.find(needle) != std::string::npos) return n;
        return 0;
    };
    struct Bad {
        std::string what, config, at;
    };
    const std::vector<Bad> bad = {
        {"IPv6 backend of an IPv4 VIP",
         good + "        - addr: " + LbLab::backend_addr(0, 6) + "\n          port: 8080\n", "addr: " + LbLab::backend_addr(0, 6)},
        {"a NAT backend in two services",
         good + service("web2", LbLab::vip(4, 1), "tcp", 80, "nat", {1}, kTcpPort), "name: web2"},
    };
    for (const auto& b : bad) {
        SCOPED_TRACE(b.what);
        write_config(b.config);
        const int line = line_of(b.at);
        ASSERT_GT(line, 0);
        auto r = daemon_->cli({"reload"});
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.err.find(fmt::format("xdpd.yaml:{}:", line)), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("previous config keeps running"), std::string::npos) << r.err;
        EXPECT_TRUE(daemon_->running());
        EXPECT_EQ(daemon_->call({{"cmd", "status"}})["reloads"], 0);
        ASSERT_EQ(lb_status()["services"].size(), 1u);
        EXPECT_EQ(lb_service("web")["backends"].size(), 3u);
        std::vector<int> errors;
        auto names = net::whoami_tcp_many(lab_.client(), LbLab::vip(4), 80, 150, kTimeout, &errors);
        auto count = net::count_names(names);
        EXPECT_EQ(count[""], 0) << net::describe_errors(errors);
        for (const char* n : {"be1", "be2", "be3"}) EXPECT_GT(count[n], 15) << net::describe_names(names);
    }
}

}  // namespace
}  // namespace xdpd::test
