// The namespace lab library (src/net): real namespaces, veths, a bridge and
// traffic through the kernel stack. Needs root, ip, ethtool and ping.
#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include "net/lab_topology.hpp"
#include "net/link.hpp"
#include "net/netns.hpp"
#include "net/ping.hpp"
#include "net/process.hpp"
#include "net/tcp.hpp"
#include "net/udp.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool netns_exists(const std::string& name) {
    auto names = list_netns();
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Any listed namespace starting with prefix, read from `ip netns list` itself.
bool any_netns_with_prefix(const std::string& prefix) {
    CmdResult r = exec_checked(nullptr, {"ip", "netns", "list"});
    return r.out.find(prefix) != std::string::npos;
}

long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class NetLab : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
        Lab::cleanup_orphans();  // what crashed runs left behind
    }
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
        lab_ = std::make_unique<Lab>();
    }
    const Lab& lab() const { return *lab_; }

    std::unique_ptr<Lab> lab_;
};

TEST_F(NetLab, PingClientToServerIPv4AndIPv6) {
    for (int v : {4, 6}) {
        PingResult p = ping(lab().client(), Lab::server_addr(v), 2, 2s);
        EXPECT_EQ(p.received, 2) << "IPv" << v << ":\n" << p.output;
    }
    PingResult a = ping(lab().attacker(), Lab::server_addr(4), 1, 2s);
    EXPECT_EQ(a.received, 1) << a.output;
}

TEST_F(NetLab, PingToAnAbsentHostReceivesNothing) {
    auto t0 = Clock::now();
    PingResult p = ping(lab().client(), "10.77.0.99", 1, 1s);
    EXPECT_EQ(p.received, 0) << p.output;
    EXPECT_FALSE(p.ok());
    EXPECT_LT(ms_since(t0), 3000);
}

TEST_F(NetLab, TcpConnectsToServerAndIsRefusedOnClosedPort) {
    TcpServer server(lab().server(), 0, TcpServer::Mode::echo);
    ASSERT_NE(server.port(), 0);
    for (int v : {4, 6}) {
        EXPECT_TRUE(tcp_connect(lab().client(), Lab::server_addr(v), server.port(), 2s)) << "IPv" << v;
        EXPECT_TRUE(tcp_exchange(lab().client(), Lab::server_addr(v), server.port(), "hello xdpd", 2s)) << "IPv" << v;
    }
    EXPECT_EQ(server.accepted(), 4u) << server.process().err();

    auto t0 = Clock::now();
    uint16_t closed = server.port() == 9 ? 10 : 9;
    EXPECT_EQ(tcp_connect_error(lab().client(), Lab::server_addr(4), closed, 2s), ECONNREFUSED);
    EXPECT_FALSE(tcp_connect(lab().client(), Lab::server_addr(6), closed, 2s));
    EXPECT_LT(ms_since(t0), 1000) << "a RST should come back at once";
}

TEST_F(NetLab, TcpServerInCloseModeAcceptsAndCloses) {
    TcpServer server(lab().server(), 8080, TcpServer::Mode::close);
    EXPECT_EQ(server.port(), 8080);
    try {
        TcpServer second(lab().server(), 8080);
        ADD_FAILURE() << "a second listener on port 8080 should fail";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("Address already in use"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(tcp_connect(lab().attacker(), Lab::server_addr(4), 8080, 2s));
    EXPECT_FALSE(tcp_exchange(lab().attacker(), Lab::server_addr(4), 8080, "x", 2s));
    EXPECT_EQ(server.accepted(), 2u);
    server.stop();
    EXPECT_FALSE(server.process().running());
    EXPECT_EQ(tcp_connect_error(lab().attacker(), Lab::server_addr(4), 8080, 2s), ECONNREFUSED);
}

TEST_F(NetLab, TcpConnectToSilentHostTimesOut) {
    auto t0 = Clock::now();
    int err = tcp_connect_error(lab().client(), "10.77.0.99", 80, 300ms);
    EXPECT_TRUE(err == ETIMEDOUT || err == EHOSTUNREACH) << err;
    EXPECT_LT(ms_since(t0), 3000);
}

TEST_F(NetLab, UdpEchoRoundTrip) {
    UdpEchoServer server(lab().server(), 0);
    for (int v : {4, 6}) {
        EXPECT_TRUE(udp_exchange(lab().client(), Lab::server_addr(v), server.port(), "ping over udp", 2s))
            << "IPv" << v << ": " << server.process().err();
    }
    EXPECT_EQ(server.received(), 2u);
    // Nothing listens: ICMP port unreachable comes back as ECONNREFUSED.
    uint16_t closed = server.port() == 9 ? 10 : 9;
    EXPECT_EQ(udp_exchange_error(lab().client(), Lab::server_addr(4), closed, "x", 1s), ECONNREFUSED);
}

TEST_F(NetLab, RunInRunsInTheNamespaceAndReturnsExitCode) {
    EXPECT_EQ(run_in(lab().client(), [] { return 7; }), 7);
    // cli0 exists in the client namespace only.
    EXPECT_EQ(run_in(lab().client(), [] { return if_nametoindex("cli0") != 0 ? 0 : 1; }), 0);
    EXPECT_EQ(run_in(lab().server(), [] { return if_nametoindex("cli0") != 0 ? 0 : 1; }), 1);
    EXPECT_EQ(run_in(lab().client(), []() -> int { throw std::runtime_error("boom"); }), 125);
    EXPECT_THROW(run_in(lab().client(), [] { pause(); return 0; }, 200ms), std::runtime_error);
}

TEST_F(NetLab, ExecCapturesOutputAndExitCode) {
    CmdResult addr = exec(&lab().server(), {"ip", "-o", "addr", "show", "dev", "srv0"});
    ASSERT_TRUE(addr.ok()) << addr.err;
    EXPECT_NE(addr.out.find("10.77.0.1/24"), std::string::npos) << addr.out;
    EXPECT_NE(addr.out.find("fd77::1/64"), std::string::npos) << addr.out;

    CmdResult sh = exec(nullptr, {"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(sh.exit_code, 3);
    EXPECT_EQ(sh.out, "out\n");
    EXPECT_EQ(sh.err, "err\n");
    EXPECT_FALSE(sh.ok());

    // Arguments go to the program as they are: no shell in between.
    CmdResult echo = exec(nullptr, {"echo", "$HOME; ls", "*"});
    EXPECT_EQ(echo.out, "$HOME; ls *\n");

    auto t0 = Clock::now();
    CmdResult slow = exec(&lab().client(), {"sleep", "10"}, 200ms);
    EXPECT_TRUE(slow.timed_out);
    EXPECT_LT(ms_since(t0), 2000);

    EXPECT_THROW(exec(nullptr, {"/nonexistent/xdpd-no-such-tool"}), SysError);
    try {
        exec_checked(&lab().server(), {"ip", "link", "show", "dev", "nosuchdev0"});
        ADD_FAILURE() << "expected CommandError";
    } catch (const CommandError& e) {
        std::string what = e.what();
        EXPECT_NE(what.find(lab().server().name()), std::string::npos) << what;
        EXPECT_NE(what.find("nosuchdev0"), std::string::npos) << what;
        EXPECT_NE(e.result().exit_code, 0);
    }
}

TEST_F(NetLab, ProcessRunsInNamespaceCapturesOutputAndIsKilled) {
    Process p = Process::spawn(&lab().server(), {"sh", "-c", "ip -o link show dev srv0; echo to-stderr >&2; exec sleep 30"});
    EXPECT_TRUE(p.running());
    EXPECT_FALSE(p.wait(100ms));
    EXPECT_NE(p.out().find("srv0"), std::string::npos) << p.out();
    // (ip may also warn on stderr when namespaces of parallel tests go away.)
    EXPECT_NE(p.err().find("to-stderr\n"), std::string::npos) << p.err();
    // It shows up in `ip netns pids`, so Netns can clean up after it.
    CmdResult pids = exec_checked(nullptr, {"ip", "netns", "pids", lab().server().name()});
    EXPECT_NE(pids.out.find(std::to_string(p.pid())), std::string::npos) << pids.out;
    p.kill(SIGTERM);
    EXPECT_EQ(p.wait(2s), 128 + SIGTERM);
    EXPECT_FALSE(p.running());
}

TEST_F(NetLab, LinksAreConfigured) {
    const Netns& srv = lab().server();
    int idx = ifindex(&srv, "srv0");
    EXPECT_GT(idx, 0);
    EXPECT_EQ(run_in(srv, [idx] { return int(if_nametoindex("srv0")) == idx ? 0 : 1; }), 0);
    EXPECT_THROW(ifindex(&srv, "cli0"), CommandError);

    CmdResult k = exec_checked(&srv, {"ethtool", "-k", "srv0"});
    EXPECT_NE(k.out.find("tx-checksumming: off"), std::string::npos) << k.out;
    EXPECT_NE(k.out.find("rx-checksumming: off"), std::string::npos) << k.out;
    EXPECT_NE(k.out.find("generic-receive-offload: off"), std::string::npos) << k.out;

    set_mtu(&srv, "srv0", 1400);
    CmdResult link = ip_cmd(&srv, {"-o", "link", "show", "dev", "srv0"});
    EXPECT_NE(link.out.find("mtu 1400"), std::string::npos) << link.out;
    EXPECT_NE(link.out.find("state UP"), std::string::npos) << link.out;

    CmdResult br = ip_cmd(&lab().sw(), {"-o", "link", "show", "master", Lab::kBridge});
    for (const char* port : {"sw-srv", "sw-cli", "sw-atk"})
        EXPECT_NE(br.out.find(port), std::string::npos) << br.out;
}

TEST_F(NetLab, NamespacesAreGoneAfterLabIsDestroyed) {
    std::string prefix = lab().prefix();
    for (const auto& name : lab().netns_names()) EXPECT_TRUE(netns_exists(name)) << name;
    // A leftover process must not keep anything alive.
    Process stray = Process::spawn(&lab().client(), {"sleep", "30"});
    lab_.reset();
    EXPECT_FALSE(any_netns_with_prefix(prefix));
    EXPECT_EQ(stray.wait(2s), 128 + SIGKILL);
}

TEST(NetLabCleanup, CleanupStaleRemovesLeftovers) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    // A crashed run: namespaces created without an owner, one with a process in it.
    std::string prefix = unique_prefix("xlstale");
    exec_checked(nullptr, {"ip", "netns", "add", prefix + "-a"});
    exec_checked(nullptr, {"ip", "netns", "add", prefix + "-b"});
    Process stray = Process::spawn(nullptr, {"ip", "netns", "exec", prefix + "-b", "sleep", "30"});
    ASSERT_TRUE(stray.running());
    std::string other = unique_prefix("xlkeep");
    Netns keep = Netns::create(other);

    auto removed = Lab::cleanup_stale(prefix);
    EXPECT_EQ(removed.size(), 2u);
    EXPECT_FALSE(any_netns_with_prefix(prefix));
    EXPECT_TRUE(netns_exists(other));
    EXPECT_EQ(stray.wait(2s), 128 + SIGKILL);
    EXPECT_THROW(Lab::cleanup_stale(""), std::invalid_argument);
}

TEST(NetLabCleanup, CleanupOrphansSparesLabsOfLivingProcesses) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    // A lab of a process that has exited (pid of a reaped child) and one of ours.
    Process dead = Process::fork(nullptr, [] { return 0; }, "exit at once");
    ASSERT_EQ(dead.wait(2s), 0);
    std::string orphan = "xl" + std::to_string(dead.pid()) + "zz-client";
    exec_checked(nullptr, {"ip", "netns", "add", orphan});
    Netns mine = Netns::create(unique_prefix("xl") + "-client");

    Lab::cleanup_orphans();  // (a test running in parallel may have got there first)
    EXPECT_FALSE(netns_exists(orphan));
    EXPECT_TRUE(netns_exists(mine.name()));
    if (netns_exists(orphan)) remove_netns(orphan);
}

TEST(NetLabNetns, MoveTransfersOwnershipAndReleaseKeeps) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    std::string name = unique_prefix("xl") + "-mv";
    {
        Netns a = Netns::create(name);
        Netns b = std::move(a);
        EXPECT_TRUE(a.name().empty());
        EXPECT_EQ(b.name(), name);
        EXPECT_TRUE(b.open_fd());
        EXPECT_THROW(Netns::create(name), CommandError);  // taken
        EXPECT_TRUE(netns_exists(name));
    }
    EXPECT_FALSE(netns_exists(name));
    {
        Netns c = Netns::create(name);
        EXPECT_EQ(c.release(), name);
    }
    EXPECT_TRUE(netns_exists(name));
    remove_netns(name);
    EXPECT_FALSE(netns_exists(name));
    remove_netns(name);  // already gone: not an error
}

TEST(NetLabNetns, VethToCurrentNamespaceAndUniquePrefix) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    std::string p1 = unique_prefix("xl"), p2 = unique_prefix("xl");
    EXPECT_NE(p1, p2);
    EXPECT_LE(p1.size() + 4, size_t(IFNAMSIZ - 1)) << p1;  // room for a suffix in an interface name
    // "Here" is a namespace of its own (entered by run_in), not the host's.
    Netns here = Netns::create(p1 + "-here");
    Netns ns = Netns::create(p1 + "-v");
    std::string hif = p1 + "h";
    int rc = run_in(here, [&] {
        // One end in the current namespace, the other in ns.
        veth_pair(nullptr, hif, &ns, "peer0");
        if (ifindex(nullptr, hif) <= 0 || ifindex(&ns, "peer0") <= 0) return 1;
        add_addr(nullptr, hif, "10.78.0.1/30");
        add_addr(&ns, "peer0", "10.78.0.2/30");
        link_up(nullptr, hif);
        link_up(&ns, "peer0");
        wait_link_up(nullptr, hif);
        wait_link_up(&ns, "peer0");
        return ping(ns, "10.78.0.1", 1, 2s).received == 1 ? 0 : 2;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_THROW(ifindex(nullptr, hif), CommandError);  // not in the test's own namespace

    ns = Netns::create(p2 + "-v");  // the old one is deleted here, and with it the veth
    auto gone = [&] { return !exec(&here, {"ip", "link", "show", "dev", hif}).ok(); };
    for (int i = 0; i < 100 && !gone(); ++i) usleep(20000);  // netns teardown is asynchronous
    EXPECT_TRUE(gone());
}

}  // namespace
}  // namespace xdpd::net
