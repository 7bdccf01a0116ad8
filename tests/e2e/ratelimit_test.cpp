// Rate limits through the real daemon, with real UDP traffic: a flooding
// source is held to its rate while a well-behaved one gets everything through.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "e2e/daemon_fixture.hpp"
#include "net/udp.hpp"

namespace xdpd::test {
namespace {

// Sends n datagrams from ns to the server's port, as fast as the stack allows.
void blast(const net::Netns& ns, uint16_t port, int n) {
    net::run_in(ns, [port, n] {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        inet_pton(AF_INET, Lab::server_addr(4).c_str(), &a.sin_addr);
        char buf[64] = {};
        for (int i = 0; i < n; ++i) sendto(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        return 0;
    });
}

TEST_F(Daemon, PerSourceLimitHoldsAFloodAndSparesOthers) {
    write_config(R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: game
      action: allow
      proto: udp
      dport: 9000
      limit: per-player
shield:
  limits:
    - name: per-player
      per_source: {pps: 50, burst: 100}
)");
    start();
    net::UdpEchoServer sink(lab_.server(), 9000);
    const auto t0 = std::chrono::steady_clock::now();
    blast(lab_.attacker(), 9000, 5000);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(net::udp_exchange(lab_.client(), Lab::server_addr(4), 9000, "hi", 1s));
    std::this_thread::sleep_for(200ms);
    // The attacker: its burst plus 50/s while it sent; the client: all 20.
    const uint64_t allowed = 100 + uint64_t(50 * secs) + 20 + 1;
    EXPECT_LE(sink.received(), allowed) << "sent for " << secs << " s";
    EXPECT_GE(sink.received(), 100u + 20u);
    EXPECT_GE(reason_packets("rate_source"), 5000u - (allowed - 20));
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["limiter"]["profiles"][0], "per-player");
}

}  // namespace
}  // namespace xdpd::test
