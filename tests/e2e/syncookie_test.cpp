// SYN cookies end to end: the real daemon on srv0 answers SYNs to port 80 in
// XDP, netfilter SYNPROXY (set up by the daemon) completes the handshake with
// the real server, kernel TCP clients connect and move data over IPv4 and
// IPv6, also while hping3 floods the port with SYNs from random sources or
// with forged ACKs. The daemon removes its netfilter set-up when it detaches.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"
#include "net/link.hpp"

namespace xdpd::test {
namespace {

constexpr const char* kLoose = "/proc/sys/net/netfilter/nf_conntrack_tcp_loose";

const char* kSynCookies = R"(interfaces:
  - name: srv0
syncookies:
  ports: [80]
  mss: 1460
  wscale: 7
)";

class SynCookieDaemon : public Daemon {
protected:
    void SetUp() override {
        Daemon::SetUp();
        deliver_xdp_tx();
        offload_client_checksums();
    }

    std::string in_server(std::vector<std::string> argv) { return net::exec(&lab_.server(), argv).out; }
    bool table_present() {
        return net::exec(&lab_.server(), {"nft", "list", "table", "inet", "xdpd_synproxy"}).ok();
    }
    std::string loose() {
        auto s = in_server({"cat", kLoose});
        return s.substr(0, s.find('\n'));
    }
    // Fresh connections with a payload echoed back; returns how many succeeded.
    int connections(int n, int v = 4, size_t payload = 1000, std::chrono::milliseconds timeout = 4s) {
        int ok = 0;
        for (int i = 0; i < n; ++i)
            ok += net::tcp_exchange(lab_.client(), Lab::server_addr(v), 80, std::string(payload, char('a' + i % 26)),
                                    timeout);
        return ok;
    }
};

TEST_F(SynCookieDaemon, ClientsConnectThroughCookiesIpv4AndIpv6) {
    const std::string loose_before = loose();
    write_config(kSynCookies);
    start();
    EXPECT_TRUE(table_present()) << "the daemon installs its SYNPROXY table";
    EXPECT_EQ(loose(), "0");

    EXPECT_EQ(connections(5, 4), 5);
    EXPECT_EQ(connections(5, 6), 5);
    // Bulk data both ways: sequence numbers, windows (scaled) and timestamps
    // are translated by SYNPROXY for the whole connection.
    EXPECT_TRUE(net::tcp_exchange(lab_.client(), Lab::server_addr(4), 80, std::string(3 << 20, 'z'), 20s));
    EXPECT_TRUE(net::tcp_exchange(lab_.client(), Lab::server_addr(6), 80, std::string(3 << 20, 'y'), 20s));

    EXPECT_GE(reason_packets("syncookie_sent"), 12u);
    EXPECT_GE(reason_packets("syncookie_ok"), 12u);
    EXPECT_EQ(reason_packets("syncookie_bad"), 0u);
    EXPECT_EQ(web_->accepted(), 12u) << "every handshake reached the real server once";
    EXPECT_TRUE(tcp(22)) << "unprotected ports are untouched";

    auto r = daemon_->cli({"detach"});
    ASSERT_TRUE(r.ok()) << r.err;
    for (int i = 0; i < 100 && daemon_->running(); ++i) std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(table_present()) << "detach removes the table";
    EXPECT_EQ(loose(), loose_before) << "and restores the sysctl";
    EXPECT_TRUE(tcp(80)) << "plain TCP again";
}

TEST_F(SynCookieDaemon, ReloadWithoutSyncookiesRemovesSynproxy) {
    write_config(kSynCookies);
    start();
    ASSERT_TRUE(table_present());
    write_config("interfaces:\n  - name: srv0\n");
    auto r = daemon_->cli({"reload"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(table_present());
    EXPECT_TRUE(tcp(80));
    EXPECT_EQ(reason_packets("syncookie_sent"), 0u);
}

TEST_F(SynCookieDaemon, LegitimateClientsConnectDuringSynFlood) {
    write_config(kSynCookies);
    start();
    ASSERT_EQ(connections(2), 2) << "works before the flood";
    const auto accepted_before = web_->accepted();
    {
        auto hping = flood({"-S", "-p", "80", "--rand-source"});
        std::this_thread::sleep_for(1s);  // the flood is on
        const auto sent_before = reason_packets("syncookie_sent");
        const int n = 20;
        int ok = connections(n);
        const auto sent = reason_packets("syncookie_sent") - sent_before;
        std::printf("[ flood    ] %d/%d connections during the SYN flood; %llu cookie SYN-ACKs sent meanwhile\n",
                    ok, n, (unsigned long long)sent);
        EXPECT_GE(ok, n * 9 / 10) << "success ratio under a SYN flood";
        EXPECT_GT(sent, 1000u) << "the flood was answered in XDP (is hping3 flooding?)";
    }
    EXPECT_LE(web_->accepted() - accepted_before, 20u) << "the flood never reached the server";
    EXPECT_EQ(connections(2), 2) << "and after";
}

TEST_F(SynCookieDaemon, ForgedAckFloodIsDroppedInXdp) {
    write_config(kSynCookies);
    start();
    {
        auto hping = flood({"-A", "-p", "80", "--rand-source"});
        std::this_thread::sleep_for(1s);
        int ok = connections(10);
        EXPECT_GE(ok, 9) << "clients still connect during an ACK flood";
    }
    EXPECT_GT(reason_packets("syncookie_bad"), 1000u) << "forged ACKs dropped by the cookie check";
    EXPECT_GE(reason_packets("syncookie_ok"), 10u);
}

}  // namespace
}  // namespace xdpd::test
