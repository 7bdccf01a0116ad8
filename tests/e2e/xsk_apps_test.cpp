// The AF_XDP apps (`xdpd xsk rxdrop|l2fwd|echo`) end to end: the real daemon
// steers UDP to port 5000 on srv0 to the app (the real binary, in the server
// namespace) while kernel sockets in the client namespace talk to it; other
// traffic keeps reaching the server's kernel.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <map>
#include <thread>

#include "e2e/daemon_fixture.hpp"
#include "e2e/xsk_apps_support.hpp"
#include "e2e/xsk_lab.hpp"
#include "net/udp.hpp"
#include "util/error.hpp"

namespace xdpd::test {
namespace {

const char* kConfig = R"(interfaces:
  - name: srv0
firewall:
  rules:
    - {id: app, action: steer, proto: udp, dport: 5000}
)";

class XskApp : public Daemon {
protected:
    void SetUp() override {
        Daemon::SetUp();
        write_config(kConfig);
        start();
        // Neighbours resolved before counting datagrams (ARP/ND are not steered).
        ASSERT_TRUE(ping(4));
        ASSERT_TRUE(ping(6));
    }
    void TearDown() override {
        if (HasFailure() && app_) std::fprintf(stderr, "%s\n", app_->output().c_str());
        app_.reset();
        Daemon::TearDown();
    }
    void run_app(std::vector<std::string> args) {
        app_.emplace(lab_.server().name(), paths_.bpffs, paths_.socket, std::move(args));
    }
    int echoes(const std::string& tag, int n, int v = 4) {
        return echo_exchanges(lab_.client().name(), Lab::server_addr(v), 5000, tagged_payloads(tag, n));
    }
    // The steer rule's counter slot, as `xdpd rules --json` reports it.
    uint64_t app_rule_slot() {
        auto r = daemon_->cli({"rules", "--json"});
        EXPECT_TRUE(r.ok()) << r.err;
        for (const auto& rule : nlohmann::json::parse(r.out))
            if (rule["id"] == "app") return rule["slot"].get<uint64_t>();
        ADD_FAILURE() << "no rule app in " << r.out;
        return 0;
    }

    std::optional<AppProcess> app_;
};

// 1. The echo service answers kernel UDP clients over IPv4 and IPv6 with the
// same payload; ping, TCP and UDP to another port still reach the kernel.
TEST_F(XskApp, EchoAnswersKernelClientsOtherTrafficReachesTheKernel) {
    net::UdpEchoServer kernel_udp(lab_.server(), 6000);
    run_app({"echo", "-i", "srv0", "--port", "5000", "--json"});
    EXPECT_EQ(app_->start()["queues"].size(), 1u);
    EXPECT_EQ(app_->start()["queues"][0]["mode"], "copy");

    EXPECT_EQ(echoes("v4", 100, 4), 100);
    EXPECT_EQ(echoes("v6", 100, 6), 100);
    EXPECT_TRUE(ping(4));
    EXPECT_TRUE(ping(6));
    EXPECT_TRUE(tcp(80, 4));
    EXPECT_TRUE(tcp(80, 6));
    EXPECT_TRUE(net::udp_exchange(lab_.client(), Lab::server_addr(4), 6000, "to the kernel", 1s));
    EXPECT_TRUE(net::udp_exchange(lab_.client(), Lab::server_addr(6), 6000, "to the kernel", 1s));
    EXPECT_GE(kernel_udp.received(), 2u);

    ASSERT_EQ(app_->stop(SIGINT), 0);
    auto s = app_->summary();
    ASSERT_FALSE(s.is_null());
    EXPECT_EQ(s["stopped_by"], "SIGINT");
    EXPECT_EQ(s["total"]["rx_packets"], 200u);
    EXPECT_EQ(s["total"]["tx_packets"], 200u);
    EXPECT_EQ(s["total"]["not_for_me"], 0u);
    EXPECT_EQ(s["total"]["rx_dropped"], 0u);
}

// 2. rxdrop --count N counts exactly the datagrams sent and stops; --show-meta
// reports the steer rule's slot, the queue and l4 = udp.
TEST_F(XskApp, RxdropCountsExactlyAndShowsMetadata) {
    const __u32 ifslot = daemon_->call({{"cmd", "status"}})["interfaces"][0]["slot"].get<__u32>();
    const uint64_t rule_slot = app_rule_slot();
    run_app({"rxdrop", "-i", "srv0", "--json", "--count", "60", "--show-meta", "3"});
    send_datagrams(lab_.client().name(), Lab::server_addr(4), 5000, tagged_payloads("drop4", 30));
    send_datagrams(lab_.client().name(), Lab::server_addr(6), 5000, tagged_payloads("drop6", 30));
    ASSERT_EQ(app_->wait(5s), 0) << "rxdrop did not stop after --count 60";
    auto s = app_->summary();
    ASSERT_FALSE(s.is_null());
    EXPECT_EQ(s["stopped_by"], "count");
    EXPECT_EQ(s["total"]["rx_packets"], 60u);
    EXPECT_EQ(s["total"]["tx_packets"], 0u);
    auto metas = app_->events("meta");
    ASSERT_EQ(metas.size(), 3u);
    for (const auto& m : metas) {
        EXPECT_TRUE(m["present"]) << m.dump();
        EXPECT_EQ(m["rule_slot"], rule_slot) << m.dump();
        EXPECT_EQ(m["rule"], rule_slot + 1) << m.dump();
        EXPECT_EQ(m["queue"], 0) << m.dump();
        EXPECT_EQ(m["rx_queue"], 0) << m.dump();
        EXPECT_EQ(m["ifslot"], ifslot) << m.dump();
        EXPECT_EQ(m["l3"], "ipv4") << m.dump();
        EXPECT_EQ(m["l4"], "udp") << m.dump();
        EXPECT_EQ(m["proto"], 17) << m.dump();
        EXPECT_EQ(m["l3_off"], 14) << m.dump();
        EXPECT_EQ(m["l4_off"], 34) << m.dump();
    }
    // Stopped: its socket left the XSKMAP, the kernel answers (port unreachable).
    EXPECT_EQ(net::udp_exchange_error(lab_.client(), Lab::server_addr(4), 5000, "x", 1s), ECONNREFUSED);
}

// An AF_PACKET socket on the client's interface: every frame, both ways.
struct Sniffer {
    explicit Sniffer(const std::string& ns, const std::string& ifname)
        : fd(in_netns(ns, [&] {
              UniqueFd s(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
              if (!s) throw SysError("packet socket", errno);
              sockaddr_ll sll{};
              sll.sll_family = AF_PACKET;
              sll.sll_protocol = htons(ETH_P_ALL);
              sll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
              if (bind(s.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) throw SysError("bind " + ifname, errno);
              int buf = 4 << 20;
              setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
              return s;
          })) {}
    // Frames until `idle` passes without one: (incoming?, bytes).
    std::vector<std::pair<bool, Bytes>> read(std::chrono::milliseconds idle) {
        timeval tv{0, long(idle.count()) * 1000};
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::vector<std::pair<bool, Bytes>> out;
        Bytes buf(65536);
        for (;;) {
            sockaddr_ll from{};
            socklen_t len = sizeof from;
            ssize_t n = recvfrom(fd.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n < 0) break;
            out.emplace_back(from.sll_pkttype != PACKET_OUTGOING, Bytes(buf.begin(), buf.begin() + n));
        }
        return out;
    }
    UniqueFd fd;
};

// 3. l2fwd sends every frame back with the MACs swapped, otherwise unchanged;
// the summary counts them.
TEST_F(XskApp, L2fwdReturnsFramesWithMacsSwapped) {
    run_app({"l2fwd", "-i", "srv0", "--json"});
    Sniffer sniff(lab_.client().name(), Lab::ifname(Lab::Host::client));
    const int n = 50;
    send_datagrams(lab_.client().name(), Lab::server_addr(4), 5000, tagged_payloads("fwd", n));
    std::map<std::string, Bytes> sent;
    int back = 0, swapped = 0;
    for (auto& [incoming, f] : sniff.read(500ms)) {
        UdpView u = parse_udp(f);
        if (u.dport != 5000) continue;
        const std::string key(u.payload.begin(), u.payload.end());
        if (!incoming) {
            sent[key] = f;
            continue;
        }
        ++back;
        auto it = sent.find(key);
        if (it == sent.end()) continue;
        Bytes expect = it->second;
        std::swap_ranges(expect.begin(), expect.begin() + 6, expect.begin() + 6);
        if (f == expect) ++swapped;
    }
    EXPECT_EQ(sent.size(), size_t(n));
    EXPECT_EQ(back, n);
    EXPECT_EQ(swapped, n) << "frames came back changed beyond the MAC swap";
    ASSERT_EQ(app_->stop(SIGINT), 0);
    auto s = app_->summary();
    EXPECT_EQ(s["total"]["rx_packets"], uint64_t(n));
    EXPECT_EQ(s["total"]["tx_packets"], uint64_t(n));
}

// 5. The daemon killed (-9) and started again while echo runs: the XSKMAP
// and the program stay, replies keep coming.
TEST_F(XskApp, EchoSurvivesDaemonKillAndRestart) {
    run_app({"echo", "-i", "srv0", "--json"});
    EXPECT_EQ(echoes("before", 20), 20);
    daemon_->kill9();
    EXPECT_EQ(echoes("dead", 20), 20) << "the data plane should keep steering without the daemon";
    start();
    EXPECT_EQ(echoes("after", 20, 4), 20);
    EXPECT_EQ(echoes("after6", 20, 6), 20);
    EXPECT_TRUE(app_->running());
    ASSERT_EQ(app_->stop(SIGTERM), 0);
    EXPECT_EQ(app_->summary()["stopped_by"], "SIGTERM");
    EXPECT_EQ(app_->summary()["total"]["tx_packets"], 80u);
}

// 6. The app stopped (SIGINT: its XSKMAP entry erased, traffic falls back to
// steer.no_socket = pass) and started again on the same queue.
TEST_F(XskApp, EchoStopAndRestartOnTheSameQueue) {
    run_app({"echo", "-i", "srv0", "-q", "0", "--json"});
    EXPECT_EQ(echoes("first", 20), 20);
    ASSERT_EQ(app_->stop(SIGINT), 0);
    EXPECT_EQ(app_->summary()["total"]["tx_packets"], 20u);
    EXPECT_EQ(net::udp_exchange_error(lab_.client(), Lab::server_addr(4), 5000, "x", 1s), ECONNREFUSED);
    EXPECT_GE(reason_packets("steer_no_socket"), 1u);
    run_app({"echo", "-i", "srv0", "-q", "0", "--json"});
    EXPECT_EQ(echoes("second", 20), 20);
    EXPECT_EQ(echoes("second6", 20, 6), 20);
}

// 7. A flood faster than the app with few frames: the kernel finds the fill
// ring empty and drops, the stats say so, and the app keeps answering.
TEST_F(XskApp, FillRingStarvationIsReportedAndSurvived) {
    run_app({"echo", "-i", "srv0", "--frames", "32", "--batch", "8", "--json"});
    {
        auto f = flood({"-2", "-p", "5000", "-d", "64"});
        std::this_thread::sleep_for(2500ms);
    }
    ASSERT_TRUE(app_->wait_events("sample", 3, 5s));
    std::this_thread::sleep_for(1500ms);  // a sample after the flood
    auto t = app_->events("sample").back()["total"];
    EXPECT_GT(t["rx_packets"].get<uint64_t>(), 100u) << t.dump();
    EXPECT_GT(t["fill_ring_empty"].get<uint64_t>(), 0u) << t.dump();
    EXPECT_GT(t["rx_dropped"].get<uint64_t>(), 0u) << t.dump();
    EXPECT_EQ(echoes("after-flood", 20), 20);
    ASSERT_EQ(app_->stop(SIGINT), 0);
    auto s = app_->summary();
    EXPECT_GT(s["total"]["rx_dropped"].get<uint64_t>(), 0u);
}

// 4. A two-queue veth, the daemon on it: one socket per queue, each queue
// gets its own traffic, per-queue counters in the JSON.
// An app on a daemon that steers nothing says so at start (with an example
// rule); with a steer rule it says nothing of the kind.
TEST_F(XskApp, WarnsWhenTheDaemonSteersNothing) {
    run_app({"rxdrop", "-i", "srv0", "--json"});
    EXPECT_FALSE(app_->wait_events("note", 1, 1s)) << app_->output();
    app_.reset();
    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules:\n    - {id: web, action: allow, proto: tcp, dport: 80}\n");
    ASSERT_TRUE(daemon_->cli({"reload"}).ok());
    run_app({"rxdrop", "-i", "srv0", "--json"});
    ASSERT_TRUE(app_->wait_events("note", 1, 3s)) << app_->output();
    const std::string note = app_->events("note")[0].value("note", "");
    EXPECT_NE(note.find("steers nothing"), std::string::npos) << note;
    EXPECT_NE(note.find("action: steer"), std::string::npos) << note;
}

TEST(XskAppMultiQueue, OneSocketPerQueueEachGetsTraffic) {
    XskLab lab({.queues = 2, .attach = false});
    lab.steer_tx_queue_by_cpu();
    std::optional<lab::ScratchDataPlane> scratch;
    scratch.emplace(XDPD_BINARY, lab.dut().name(), lab::DaemonPaths::for_name(lab.dut().name()));
    const auto& paths = scratch->paths();
    std::ofstream(paths.config) << "interfaces:\n  - name: " << lab.dut_if()
                                << "\nfirewall:\n  rules:\n    - {id: app, action: steer, proto: udp, dport: 5000}\n"
                                << "daemon:\n  socket: " << paths.socket << "\n  bpffs: " << paths.bpffs << "\n";
    lab::DaemonProcess daemon(XDPD_BINARY, lab.dut().name(), paths);
    AppProcess app(lab.dut().name(), paths.bpffs, paths.socket, {"rxdrop", "-i", lab.dut_if(), "--json"});
    auto q = app.start()["queues"];
    ASSERT_EQ(q.size(), 2u) << app.output();
    EXPECT_EQ(q[0]["queue"], 0);
    EXPECT_EQ(q[1]["queue"], 1);

    auto p0 = make_payloads("q0", 40), p1 = make_payloads("q1", 60);
    std::thread t1([&] { send_udp(lab, XskLab::kDutIp4, 5000, p1, 1); });
    send_udp(lab, XskLab::kDutIp4, 5000, p0, 0);
    t1.join();
    ASSERT_TRUE(app.wait_events("sample", 2, 5s)) << app.output();
    ASSERT_EQ(app.stop(SIGINT), 0) << app.output();
    auto s = app.summary();
    ASSERT_EQ(s["queues"].size(), 2u) << app.output();
    EXPECT_EQ(s["queues"][0]["queue"], 0);
    EXPECT_EQ(s["queues"][0]["rx_packets"], 40u) << app.output();
    EXPECT_EQ(s["queues"][1]["queue"], 1);
    EXPECT_EQ(s["queues"][1]["rx_packets"], 60u) << app.output();
    EXPECT_EQ(s["total"]["rx_packets"], 100u);
    auto sample = app.events("sample").back();
    EXPECT_EQ(sample["queues"].size(), 2u);
}

}  // namespace
}  // namespace xdpd::test
