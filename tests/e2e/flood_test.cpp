// The quality bar of the DDoS shield, end to end: while a spoofed SYN flood
// and a spoofed UDP flood run, legitimate clients still connect and move data
// through xdpd; without xdpd the same floods visibly hurt them. One test, two
// phases in the same lab, so the comparison comes from the same run:
//
//   baseline  no xdpd; the server's kernel alone against both floods
//   xdpd      the real daemon on srv0: SYN cookies on port 80 (XDP answers
//             SYNs, SYNPROXY completes the handshake) and a firewall rule
//             that keeps the flooded UDP service to the local network
//
// Each phase: both hping3 floods on, then M fresh TCP connections from the
// client (a few at a time, IPv4 and IPv6), each sending a payload and reading
// it back within a deadline; success ratio = succeeded / M. DNS queries from
// the client run alongside and are reported too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon_fixture.hpp"
#include "net/udp.hpp"

namespace xdpd::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kWeb = 80;   // the protected TCP service (the fixture's echo server)
constexpr uint16_t kDns = 53;   // the UDP service the UDP flood hits
constexpr int kClients = 50;    // legitimate TCP connections per phase
constexpr int kQueries = 20;    // legitimate DNS (UDP) queries per phase, alongside
constexpr int kParallel = 10;   // connections and queries this many at a time
constexpr auto kDeadline = 2s;  // per connection: connect + 1000 bytes there and back
constexpr auto kQueryDeadline = 1s;
constexpr auto kWarmup = 1s;    // floods run this long before the clients start
constexpr auto kSpread = 3s;    // connection i starts no earlier than i * kSpread / kClients
constexpr double kFloodPps = 10'000;  // at least this, or the phase proves nothing

// The daemon's config: SYN cookies on the web port; the DNS service answers
// the local network only, so the spoofed flood (random sources) is denied in
// XDP. (A public UDP service would take a per-destination ceiling from
// shield.limits instead; tests/e2e/mitigation_test.cpp applies one under
// attack.)
const std::string kConfig = R"(interfaces:
  - name: srv0
firewall:
  default: allow
  rules:
    - id: dns-lan
      action: allow
      proto: udp
      dport: 53
      src: 10.77.0.0/24
    - id: dns-outside
      action: deny
      proto: udp
      dport: 53
syncookies:
  ports: [80]
  mss: 1460
  wscale: 7
)";

struct PhaseResult {
    int tcp_ok = 0, udp_ok = 0;
    double seconds = 0;    // the clients' time
    double flood_seconds = 0;
    uint64_t sent = 0;     // packets the attacker sent (both floods)
    double pps() const { return sent / flood_seconds; }
    std::string failures;  // exceptions (not plain timeouts), for messages
    double ratio() const { return double(tcp_ok) / kClients; }
    double udp_ratio() const { return double(udp_ok) / kQueries; }
};

class Flood : public Daemon {
protected:
    void SetUp() override {
        Daemon::SetUp();
        srv({"sysctl", "-qw",
             // The kernel's own defence off, so the unprotected server is
             // vulnerable the textbook way: a full SYN queue (listen backlog
             // 128, see TcpServer) drops new SYNs instead of answering with
             // cookies. Spoofed sources never complete or reset the
             // handshake, so each entry stays until its SYN-ACK retries run
             // out (tcp_synack_retries 5: about a minute); a flood keeps the
             // queue full, and a legitimate SYN (and its retry a second
             // later) finds no room.
             "net.ipv4.tcp_syncookies=0"});
        // A default route, as any server has. Without one the kernel cannot
        // route a SYN-ACK to a spoofed source and drops the SYN before it is
        // queued (tcp_conn_request: route_req fails): the flood would do no
        // harm. The route leads to an "internet" that swallows everything: a
        // veth whose peer stays down (no carrier: its qdisc drops at once),
        // with a permanent neighbour for the gateway (one entry, none per
        // random destination). So the SYN-ACKs and DNS echoes to spoofed
        // sources leave and vanish without loading the switch or the other
        // hosts. (A dummy device would do, but not every kernel has it.)
        srv({"ip", "link", "add", "internet", "type", "veth", "peer", "name", "internet-gw"});
        srv({"ip", "addr", "add", "192.0.2.1/30", "dev", "internet"});
        srv({"ip", "link", "set", "internet", "up"});
        srv({"ip", "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:00:02", "dev", "internet", "nud",
             "permanent"});
        srv({"ip", "route", "add", "default", "via", "192.0.2.2", "dev", "internet"});

        // The lab tweaks SYN cookies need (see syncookie_test.cpp and
        // docs/syncookies.md), made for both phases so that xdpd is the only
        // difference: an XDP program on the switch port, else XDP_TX'd
        // SYN-ACKs are dropped or delayed in the peer veth; TX checksum
        // offload on the client's path, else nft's synproxy drops IPv6
        // cookie ACKs (it checks their checksum with the IPv4 routine).
        deliver_xdp_tx();
        offload_client_checksums();

        dns_.emplace(lab_.server(), kDns);
    }

    void srv(std::vector<std::string> argv) { net::exec_checked(&lab_.server(), std::move(argv)); }

    // hping3 from the attacker, from random (spoofed) IPv4 sources, as fast
    // as it can; stopped when the handle goes out of scope.
    net::Process hping(std::vector<std::string> args) {
        args.insert(args.begin(), "--rand-source");
        return flood(std::move(args));
    }

    // Packets the attacker's interface has sent (/proc/net/dev is per
    // namespace: the reader's).
    uint64_t attacker_tx_packets() {
        std::istringstream in(net::exec_checked(&lab_.attacker(), {"cat", "/proc/net/dev"}).out);
        const std::string want = Lab::ifname(Lab::Host::attacker) + ":";
        for (std::string line; std::getline(in, line);) {
            std::istringstream f(line);
            std::string name;
            f >> name;
            if (name != want) continue;
            uint64_t v[10] = {};  // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets
            for (auto& x : v) f >> x;
            return v[9];
        }
        ADD_FAILURE() << "no " << want << " in /proc/net/dev";
        return 0;
    }

    // A TcpExt counter of the server's namespace (/proc/net/netstat: a line
    // of names, then a line of values).
    uint64_t server_tcpext(const std::string& name) {
        std::istringstream in(net::exec_checked(&lab_.server(), {"cat", "/proc/net/netstat"}).out);
        for (std::string names, values; std::getline(in, names) && std::getline(in, values);) {
            std::istringstream n(names), v(values);
            std::string key, value;
            n >> key;
            v >> value;
            if (key != "TcpExt:") continue;
            while (n >> key && v >> value)
                if (key == name) return std::stoull(value);
        }
        ADD_FAILURE() << "no TcpExt " << name << " in /proc/net/netstat";
        return 0;
    }

    // kClients fresh TCP connections and kQueries DNS queries (one datagram
    // echoed back), kParallel at a time: threads, each forking its probe into
    // the client namespace. Every fifth connection is over IPv6 (hping3 floods
    // IPv4 only, but the server's listener is dual-stack: one SYN queue).
    // Sequential connections would take kClients * kDeadline when they all
    // fail. Connections are spread over kSpread, as clients arrive, so that
    // a fast phase is still exposed to the floods for seconds.
    PhaseResult clients() {
        PhaseResult r;
        std::atomic<int> next{0}, tcp_ok{0}, udp_ok{0};
        std::mutex m;
        std::vector<std::string> why;
        const auto t0 = Clock::now();
        auto worker = [&] {
            for (int i; (i = next++) < kClients + kQueries;) {
                std::this_thread::sleep_until(t0 + std::chrono::milliseconds(kSpread) * (i % kClients) / kClients);
                try {
                    if (i < kClients) {
                        const int v = i % 5 == 4 ? 6 : 4;
                        tcp_ok += net::tcp_exchange(lab_.client(), Lab::server_addr(v), kWeb,
                                                    std::string(1000, char('a' + i % 26)), kDeadline);
                    } else {
                        udp_ok += net::udp_exchange(lab_.client(), Lab::server_addr(4), kDns,
                                                    "query " + std::to_string(i), kQueryDeadline);
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(m);
                    why.push_back(e.what());
                }
            }
        };
        std::vector<std::thread> threads;
        for (int t = 0; t < kParallel; ++t) threads.emplace_back(worker);
        for (auto& t : threads) t.join();
        r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        r.tcp_ok = tcp_ok;
        r.udp_ok = udp_ok;
        for (size_t i = 0; i < why.size() && i < 3; ++i) r.failures += why[i] + "; ";
        return r;
    }

    // Both floods on, warm-up, the clients, floods off.
    PhaseResult under_flood(const char* phase) {
        auto syn = hping({"-S", "-p", std::to_string(kWeb)});
        auto udp = hping({"--udp", "-p", std::to_string(kDns), "-d", "64"});
        const uint64_t tx0 = attacker_tx_packets();
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(kWarmup);
        EXPECT_TRUE(syn.running()) << "hping3 SYN flood exited: " << syn.err();
        EXPECT_TRUE(udp.running()) << "hping3 UDP flood exited: " << udp.err();
        PhaseResult r = clients();
        r.sent = attacker_tx_packets() - tx0;
        r.flood_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        std::printf("[ %-8s ] TCP %d/%d (%.0f%%), DNS %d/%d (%.0f%%) legitimate in %.1f s; the attacker "
                    "sent %llu packets in %.1f s (%.0f pps, SYN + UDP floods)\n",
                    phase, r.tcp_ok, kClients, 100 * r.ratio(), r.udp_ok, kQueries, 100 * r.udp_ratio(),
                    r.seconds, (unsigned long long)r.sent, r.flood_seconds, r.pps());
        std::fflush(stdout);
        return r;  // syn and udp are killed here
    }

    std::optional<net::UdpEchoServer> dns_;
};

TEST_F(Flood, LegitimateClientsSurviveSynAndUdpFloodsOnlyWithXdpd) {
    // The services work before anything floods them: harm below is the floods'.
    {
        const PhaseResult calm = clients();
        ASSERT_EQ(calm.tcp_ok, kClients) << "no flood, no xdpd: " << calm.failures;
        ASSERT_EQ(calm.udp_ok, kQueries) << "no flood, no xdpd: " << calm.failures;
    }

    // ---- Phase 1: no xdpd. -------------------------------------------------
    const uint64_t qfull0 = server_tcpext("TCPReqQFullDrop");
    const PhaseResult base = under_flood("baseline");
    const uint64_t qfull = server_tcpext("TCPReqQFullDrop") - qfull0;
    std::printf("[ baseline ] the server dropped %llu SYNs on a full SYN queue (TCPReqQFullDrop)\n",
                (unsigned long long)qfull);
    EXPECT_TRUE(base.failures.empty()) << base.failures;
    EXPECT_GT(qfull, 10'000u) << "the harm is the textbook one: a SYN queue full of spoofed requests";
    EXPECT_GT(base.pps(), kFloodPps) << "the floods must be real for the baseline to mean anything";
    // Measured: 0% in every run (a full queue drops the SYN and its retry
    // within the 2 s deadline). 20% leaves room for a loaded machine where
    // the flood starts slowly, and still means most clients are turned away.
    // DNS is reported but not asserted: the UDP flood alone hurts an echo
    // server only sometimes (85-100% measured).
    EXPECT_LE(base.ratio(), 0.2) << "without xdpd the floods visibly hurt legitimate TCP clients";

    // The SYN queue of the old listener is still full of spoofed requests
    // (they expire after about a minute of SYN-ACK retries): a fresh listener,
    // as the same service restarted, so phase 2 does not inherit phase 1's
    // damage. With xdpd the flood never reaches the listener.
    web_.reset();
    web_.emplace(lab_.server(), kWeb);

    // ---- Phase 2: the real daemon. -----------------------------------------
    write_config(kConfig);
    start();  // before the floods: loading is not what this test measures
    const uint64_t cookies0 = reason_packets("syncookie_sent"), denied0 = reason_packets("fw_deny");
    const uint64_t rule0 = rule_packets("dns-outside");
    const uint64_t dns0 = dns_->received(), accepted0 = web_->accepted();
    const PhaseResult prot = under_flood("xdpd");
    std::this_thread::sleep_for(200ms);  // the floods are stopped; let what is queued reach XDP and the counters
    const uint64_t cookies = reason_packets("syncookie_sent") - cookies0;
    const uint64_t denied = reason_packets("fw_deny") - denied0;
    const uint64_t rule = rule_packets("dns-outside") - rule0;
    const uint64_t dns = dns_->received() - dns0, accepted = web_->accepted() - accepted0;
    std::printf("[ xdpd     ] in XDP during the floods: syncookie_sent %llu, fw_deny %llu (rule dns-outside %llu); "
                "the web server accepted %llu connections, the DNS server received %llu datagrams\n",
                (unsigned long long)cookies, (unsigned long long)denied, (unsigned long long)rule,
                (unsigned long long)accepted, (unsigned long long)dns);
    std::printf("[ verdict  ] legitimate TCP success ratio %.0f%% without xdpd, %.0f%% with xdpd "
                "(DNS %.0f%% / %.0f%%)\n",
                100 * base.ratio(), 100 * prot.ratio(), 100 * base.udp_ratio(), 100 * prot.udp_ratio());

    EXPECT_TRUE(prot.failures.empty()) << prot.failures;
    EXPECT_GE(prot.ratio(), 0.95) << "legitimate TCP clients get through xdpd during the floods";
    EXPECT_GE(prot.udp_ratio(), 0.9) << "legitimate DNS clients too";
    EXPECT_GT(prot.pps(), kFloodPps) << "the floods must be real here too";
    // The floods were handled in XDP, by reason: SYNs answered with cookies,
    // spoofed UDP denied by the rule.
    EXPECT_GT(cookies, 10'000u);
    EXPECT_GT(denied, 10'000u);
    EXPECT_EQ(rule, denied) << "every UDP drop was the DNS rule's";
    EXPECT_LE(accepted, uint64_t(kClients)) << "no spoofed SYN reached the web server";
    // A random source falls in 10.77.0.0/24 (allowed) once in 2^24 packets:
    // a few hundred thousand packets may let one through.
    EXPECT_LE(dns, uint64_t(kQueries) + 3) << "no spoofed datagram reached the DNS server";
}

}  // namespace
}  // namespace xdpd::test
