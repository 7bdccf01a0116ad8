// The load balancer's lab (LbLab) and the whoami servers and clients, without
// any XDP program: the LB host is a plain router, DSR is prepared by hand.
// Needs root, ip and ethtool.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "net/lab_topology.hpp"
#include "net/lb_lab.hpp"
#include "net/link.hpp"
#include "net/netns.hpp"
#include "net/process.hpp"
#include "net/server_process.hpp"
#include "net/socket_addr.hpp"
#include "net/udp.hpp"
#include "net/whoami.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool netns_exists(const std::string& name) {
    auto names = list_netns();
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool any_netns_with_prefix(const std::string& prefix) {
    for (const auto& n : list_netns())
        if (n.starts_with(prefix)) return true;
    return false;
}

long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Lab::cleanup_orphans(), which throws when a test process running in
// parallel deletes the same orphan first (`ip netns del` of a namespace that
// just went); that is no failure of ours.
void cleanup_orphans_racing() {
    try {
        LbLab::cleanup_orphans();
    } catch (const CommandError& e) {
        std::cout << "[ cleanup_orphans raced another process: " << e.what() << " ]\n";
    }
}

// A counter of /proc/net/snmp ("Ip", "ForwDatagrams": header line, value
// line per group) or, for group "", of /proc/net/snmp6 ("Ip6OutForwDatagrams").
// /proc/net shows the reader's namespace, so cat runs in ns.
uint64_t snmp(const Netns& ns, const std::string& group, const std::string& field) {
    std::istringstream in(exec_checked(&ns, {"cat", group.empty() ? "/proc/net/snmp6" : "/proc/net/snmp"}).out);
    if (group.empty()) {
        std::string key;
        uint64_t value;
        while (in >> key >> value)
            if (key == field) return value;
        throw std::runtime_error("no " + field + " in /proc/net/snmp6");
    }
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (!names.starts_with(group + ": ")) continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        while (n >> name && v >> value)
            if (name == field) return std::stoull(value);
    }
    throw std::runtime_error("no " + group + " " + field + " in /proc/net/snmp");
}

// Packets the kernel of ns forwarded.
uint64_t forwarded(const Netns& ns, int version) {
    return version == 4 ? snmp(ns, "Ip", "ForwDatagrams") : snmp(ns, "", "Ip6OutForwDatagrams");
}

// forwarded() once it has not changed for 50 ms (at most 2 s): the closing
// handshakes of TCP connections a client just dropped are done.
uint64_t forwarded_settled(const Netns& ns, int version) {
    uint64_t last = forwarded(ns, version);
    for (auto end = Clock::now() + 2s; Clock::now() < end;) {
        usleep(50000);
        uint64_t now = forwarded(ns, version);
        if (now == last) break;
        last = now;
    }
    return last;
}

// All names equal to want? (For messages: describe_names().)
bool all_are(const std::vector<std::string>& names, const std::string& want) {
    return std::all_of(names.begin(), names.end(), [&](const auto& n) { return n == want; });
}

// A capture on ifname in ns (AF_PACKET): the first UDP datagram to dport that
// the interface receives, as "SRC-MAC SRC-IP". Started before the traffic;
// result() waits for it.
class UdpCapture {
public:
    UdpCapture(const Netns& ns, std::string ifname, uint16_t dport)
        : server_(start_server(ns, fmt::format("capture udp port {} on {}", dport, ifname),
                               [ifname, dport](const ReadyFn& ready) { return capture(ifname, dport, ready); })) {}

    // "" if nothing came within timeout.
    std::string result(std::chrono::milliseconds timeout) {
        auto rc = server_.process.wait(timeout);
        if (!rc) return "";
        if (*rc != 0) throw std::runtime_error("capture: exit " + std::to_string(*rc) + ": " + server_.process.err());
        std::string out = server_.process.out();
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

private:
    static int capture(const std::string& ifname, uint16_t dport, const ReadyFn& ready) {
        UniqueFd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
        if (!fd) throw SysError("socket AF_PACKET", errno);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
        if (sll.sll_ifindex == 0) throw SysError("if_nametoindex " + ifname, errno);
        if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) throw SysError("bind", errno);
        ready(0);
        unsigned char f[2048];
        for (;;) {
            sockaddr_ll from{};
            socklen_t len = sizeof from;
            ssize_t n = recvfrom(fd.get(), f, sizeof f, 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw SysError("recvfrom", errno);
            if (from.sll_pkttype == PACKET_OUTGOING || n < 14) continue;
            uint16_t type = uint16_t(f[12] << 8 | f[13]);
            const unsigned char* l3 = f + 14;
            size_t l3len = size_t(n) - 14;
            char src[INET6_ADDRSTRLEN] = "";
            const unsigned char* udp = nullptr;
            if (type == ETH_P_IP && l3len >= 28 && l3[9] == IPPROTO_UDP) {
                size_t ihl = size_t(l3[0] & 0xf) * 4;
                if (l3len >= ihl + 8) udp = l3 + ihl;
                inet_ntop(AF_INET, l3 + 12, src, sizeof src);
            } else if (type == ETH_P_IPV6 && l3len >= 48 && l3[6] == IPPROTO_UDP) {
                udp = l3 + 40;
                inet_ntop(AF_INET6, l3 + 8, src, sizeof src);
            }
            if (!udp || uint16_t(udp[2] << 8 | udp[3]) != dport) continue;
            std::string line = fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} {}\n", f[6], f[7], f[8], f[9],
                                           f[10], f[11], src);
            [[maybe_unused]] ssize_t w = write(STDOUT_FILENO, line.data(), line.size());
            return 0;
        }
    }

    RunningServer server_;
};

// In ns: one UDP datagram from src (port 0: any) to dst:port. 0 or an errno.
int send_udp_from(const Netns& ns, const std::string& src, const std::string& dst, uint16_t port,
                  const std::string& payload) {
    SocketAddr from = make_sockaddr(src, 0), to = make_sockaddr(dst, port);
    return run_in(ns, [&] {
        UniqueFd fd(socket(from.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!fd) return errno;
        if (bind(fd.get(), from.get(), from.len) != 0) return errno;
        if (sendto(fd.get(), payload.data(), payload.size(), 0, to.get(), to.len) < 0) return errno;
        return 0;
    });
}

class LbLabTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
        cleanup_orphans_racing();  // what crashed runs left behind
    }
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
        auto t0 = Clock::now();
        lab_ = std::make_unique<LbLab>();
        build_ms_ = ms_since(t0);
    }
    const LbLab& lab() const { return *lab_; }

    std::unique_ptr<LbLab> lab_;
    long long build_ms_ = 0;
};

TEST_F(LbLabTest, BuildsTheTopology) {
    RecordProperty("build_ms", std::to_string(build_ms_));
    std::cout << "[ lb lab built in " << build_ms_ << " ms ]\n";
    EXPECT_LT(build_ms_, 5000);
    ASSERT_EQ(lab().n_backends(), 3);
    auto names = lab().netns_names();
    ASSERT_EQ(names.size(), 6u);
    for (const auto& n : names) EXPECT_TRUE(netns_exists(n)) << n;
    EXPECT_EQ(names[2], lab().prefix() + "-be1");
    EXPECT_EQ(lab().backend(2).name(), lab().prefix() + "-be3");
    EXPECT_THROW(lab().backend(3), std::out_of_range);

    CmdResult br = ip_cmd(&lab().sw(), {"-o", "link", "show", "master", LbLab::kBridge});
    for (const auto& port : lab().switch_ports()) {
        EXPECT_NE(br.out.find(port + "@"), std::string::npos) << port << ":\n" << br.out;
        EXPECT_LE(port.size(), size_t(IFNAMSIZ - 1));
    }
    EXPECT_EQ(LbLab::switch_port_lb(), "sw-lb");
    EXPECT_EQ(LbLab::switch_port_backend(1), "sw-be2");

    CmdResult lb = ip_cmd(&lab().lb(), {"-o", "addr", "show", "dev", LbLab::kLbIf});
    for (const char* a : {"10.77.0.1/24", "10.78.0.1/24", "fd77::1/64", "fd78::1/64"})
        EXPECT_NE(lb.out.find(a), std::string::npos) << a << ":\n" << lb.out;
    EXPECT_EQ(LbLab::backend_addr(2, 4), "10.78.0.13");
    EXPECT_EQ(LbLab::backend_addr(0, 6), "fd78::11");
    EXPECT_EQ(LbLab::vip(4), "10.99.0.1");
    EXPECT_EQ(LbLab::vip(6, 1), "fd99::2");
    CmdResult be = ip_cmd(&lab().backend(1), {"-o", "addr", "show", "dev", LbLab::kBackendIf});
    EXPECT_NE(be.out.find("10.78.0.12/24"), std::string::npos) << be.out;
    EXPECT_NE(be.out.find("fd78::12/64"), std::string::npos) << be.out;
    EXPECT_EQ(be.out.find("tentative"), std::string::npos) << be.out;

    // Forwarding on the LB host only.
    EXPECT_EQ(exec_checked(&lab().lb(), {"cat", "/proc/sys/net/ipv4/conf/lb0/forwarding"}).out, "1\n");
    EXPECT_EQ(exec_checked(&lab().lb(), {"cat", "/proc/sys/net/ipv6/conf/lb0/forwarding"}).out, "1\n");
    EXPECT_EQ(exec_checked(&lab().client(), {"cat", "/proc/sys/net/ipv4/conf/all/forwarding"}).out, "0\n");

    // Routes: VIPs and backends via the LB host, backends' default via it.
    CmdResult r4 = ip_cmd(&lab().client(), {"-4", "route", "get", "10.99.0.7"});
    EXPECT_NE(r4.out.find("via 10.77.0.1 dev cli0"), std::string::npos) << r4.out;
    CmdResult r6 = ip_cmd(&lab().client(), {"-6", "route", "get", "fd78::12"});
    EXPECT_NE(r6.out.find("via fd77::1 dev cli0"), std::string::npos) << r6.out;
    CmdResult d6 = ip_cmd(&lab().backend(0), {"-6", "route", "get", "fd77::2"});
    EXPECT_NE(d6.out.find("via fd78::1 dev be0"), std::string::npos) << d6.out;

    // No VIP anywhere by default.
    for (const auto& n : names) {
        CmdResult a = exec_checked(nullptr, {"ip", "-n", n, "addr"});
        EXPECT_EQ(a.out.find("10.99.0."), std::string::npos) << n;
        EXPECT_EQ(a.out.find("fd99::"), std::string::npos) << n;
    }

    CmdResult k = exec_checked(&lab().backend(2), {"ethtool", "-k", "be0"});
    EXPECT_NE(k.out.find("generic-receive-offload: off"), std::string::npos) << k.out;
    EXPECT_EQ(lab().backend_mac(0), mac_address(&lab().backend(0), "be0"));
    EXPECT_NE(lab().backend_mac(0), lab().backend_mac(1));
    EXPECT_EQ(lab().lb_mac().size(), 17u);
}

TEST_F(LbLabTest, NamespacesAreGoneAfterDestruction) {
    std::string prefix = lab().prefix();
    // Servers and a stray process must not keep anything alive.
    WhoamiTcpServer server(lab().backend(0), 8080, "be1");
    Process stray = Process::spawn(&lab().client(), {"sleep", "30"});
    lab_.reset();
    EXPECT_FALSE(any_netns_with_prefix(prefix));
    EXPECT_EQ(stray.wait(2s), 128 + SIGKILL);
    EXPECT_EQ(server.process().wait(2s), 128 + SIGKILL);
}

TEST(LbLabBuild, AFailureInTheMiddleRemovesWhatWasBuilt) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    // A name taken half-way: be2 (after client, lb, be1), then sw (the last).
    for (const char* taken : {"-be2", "-sw"}) {
        std::string prefix = unique_prefix(LbLab::kBase);
        Netns squatter = Netns::create(prefix + taken);
        EXPECT_THROW(LbLab lab(prefix), CommandError) << taken;
        for (const auto& n : list_netns()) {
            if (n.starts_with(prefix)) {
                EXPECT_EQ(n, squatter.name()) << "left behind after " << taken;
            }
        }
    }
    EXPECT_THROW(LbLab lab(0), std::invalid_argument);
    EXPECT_THROW(LbLab lab(LbLab::kMaxBackends + 1), std::invalid_argument);
}

TEST(LbLabBuild, OneBackendAndCleanupOfOrphans) {
    ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
    {
        LbLab lab(1);
        EXPECT_EQ(lab.n_backends(), 1);
        EXPECT_EQ(lab.netns_names().size(), 4u);
        // Named like Lab's labs, so Lab::cleanup_orphans() finds the leftovers
        // of crashed runs, and spares the lab of a living creator.
        static_assert(LbLab::kBase == Lab::kBase);
        EXPECT_TRUE(lab.prefix().starts_with(fmt::format("{}{}", Lab::kBase, getpid()))) << lab.prefix();
        cleanup_orphans_racing();
        for (const auto& n : lab.netns_names()) EXPECT_TRUE(netns_exists(n)) << n;
    }
    // A crashed run's LbLab: its creator (an exited child) is gone. Under a
    // base of this test's own ("xlbo", which the default "xl" does not match:
    // a letter follows), so that the cleanups of test processes running in
    // parallel do not race this one for the same namespaces.
    Process dead = Process::fork(nullptr, [] { return 0; }, "exit at once");
    ASSERT_EQ(dead.wait(2s), 0);
    std::string prefix = fmt::format("xlbo{}zz", dead.pid());
    for (const char* host : {"-client", "-lb", "-be1", "-sw"})
        exec_checked(nullptr, {"ip", "netns", "add", prefix + host});
    auto removed = LbLab::cleanup_orphans("xlbo");
    EXPECT_EQ(removed.size(), 4u);
    EXPECT_FALSE(any_netns_with_prefix(prefix));
    LbLab::cleanup_stale(prefix);
}

TEST_F(LbLabTest, ClientReachesEveryBackendThroughTheLbHost) {
    std::vector<std::unique_ptr<WhoamiTcpServer>> tcp;
    std::vector<std::unique_ptr<WhoamiUdpServer>> udp;
    for (int i = 0; i < lab().n_backends(); ++i) {
        tcp.push_back(std::make_unique<WhoamiTcpServer>(lab().backend(i), 8080, LbLab::backend_name(i)));
        udp.push_back(std::make_unique<WhoamiUdpServer>(lab().backend(i), 5353, LbLab::backend_name(i)));
    }
    constexpr int kN = 50;
    for (int v : {4, 6}) {
        for (int i = 0; i < lab().n_backends(); ++i) {
            std::string addr = LbLab::backend_addr(i, v), want = LbLab::backend_name(i);
            std::vector<int> errors;
            uint64_t fwd0 = forwarded(lab().lb(), v);
            auto names = whoami_tcp_many(lab().client(), addr, 8080, kN, 2s, &errors);
            EXPECT_TRUE(all_are(names, want)) << addr << ": " << describe_names(names) << "; "
                                              << describe_errors(errors);
            // Through the LB host's kernel both ways: SYN, SYN-ACK, ACK, ...
            EXPECT_GE(forwarded(lab().lb(), v) - fwd0, uint64_t(6 * kN)) << addr;
            // Exactly request and reply of every exchange: the hosts took no
            // shortcut over the shared segment (ICMP redirects after the TCP
            // connections above would have taught them one).
            fwd0 = forwarded_settled(lab().lb(), v);
            names = whoami_udp_many(lab().client(), addr, 5353, kN, 2s, &errors);
            EXPECT_TRUE(all_are(names, want)) << addr << ": " << describe_names(names) << "; "
                                              << describe_errors(errors);
            EXPECT_EQ(forwarded(lab().lb(), v) - fwd0, uint64_t(2 * kN)) << addr;
        }
    }
    // No shortcuts: the LB host sent no ICMP redirect (IPv4; IPv6 has no
    // switch for it, the hosts ignore them) and nobody took one. A redirect
    // takes effect once the client knows the backend's MAC, which DSR
    // replies teach it; then the client would bypass the LB host.
    EXPECT_EQ(snmp(lab().lb(), "Icmp", "OutRedirects"), 0u);
    for (const Netns* ns : {&lab().client(), &lab().backend(0), &lab().backend(1), &lab().backend(2)}) {
        for (const char* fam : {"-4", "-6"}) {
            CmdResult cache = ip_cmd(ns, {fam, "route", "show", "cache"});
            EXPECT_EQ(cache.out.find("redirected"), std::string::npos) << ns->name() << ":\n" << cache.out;
        }
    }
    for (int i = 0; i < lab().n_backends(); ++i) {
        EXPECT_EQ(tcp[size_t(i)]->accepted(), uint64_t(2 * kN)) << i;
        EXPECT_EQ(udp[size_t(i)]->received(), uint64_t(2 * kN)) << i;
    }

    // Nothing on the port: refused, by TCP RST and by ICMP port unreachable.
    std::vector<int> errors;
    auto names = whoami_tcp_many(lab().client(), LbLab::backend_addr(0, 4), 8081, 3, 2s, &errors);
    EXPECT_EQ(names, std::vector<std::string>(3, ""));
    EXPECT_EQ(errors, std::vector<int>(3, ECONNREFUSED)) << describe_errors(errors);
    names = whoami_udp_many(lab().client(), LbLab::backend_addr(0, 6), 5354, 2, 2s, &errors);
    EXPECT_EQ(errors, std::vector<int>(2, ECONNREFUSED)) << describe_errors(errors);
    // Nobody has the VIP yet: the LB host has no route for it.
    names = whoami_udp_many(lab().client(), LbLab::vip(4), 5353, 2, 300ms, &errors);
    EXPECT_EQ(count_names(names)[""], 2) << describe_names(names);
}

TEST_F(LbLabTest, AThousandConnectionsAndExchangesQuickly) {
    WhoamiTcpServer tcp(lab().backend(1), 0, "be2");
    WhoamiUdpServer udp(lab().backend(1), 0, "be2");
    for (int v : {4, 6}) {
        auto t0 = Clock::now();
        std::vector<int> errors;
        auto names = whoami_tcp_many(lab().client(), LbLab::backend_addr(1, v), tcp.port(), 1000, 2s, &errors);
        long long tcp_ms = ms_since(t0);
        EXPECT_TRUE(all_are(names, "be2")) << describe_names(names) << "; " << describe_errors(errors);
        t0 = Clock::now();
        names = whoami_udp_many(lab().client(), LbLab::backend_addr(1, v), udp.port(), 1000, 2s, &errors);
        long long udp_ms = ms_since(t0);
        EXPECT_TRUE(all_are(names, "be2")) << describe_names(names) << "; " << describe_errors(errors);
        std::cout << "[ IPv" << v << ": 1000 TCP connections in " << tcp_ms << " ms, 1000 UDP exchanges in "
                  << udp_ms << " ms ]\n";
        EXPECT_LT(tcp_ms, 10000);
        EXPECT_LT(udp_ms, 10000);
    }
    EXPECT_EQ(tcp.accepted(), 2000u);
    EXPECT_EQ(udp.received(), 2000u);

    // Sequential works too (parallel = 1).
    auto names = whoami_tcp_many(lab().client(), LbLab::backend_addr(1, 4), tcp.port(), 20, 2s, nullptr, 1);
    EXPECT_TRUE(all_are(names, "be2")) << describe_names(names);
}

TEST_F(LbLabTest, HeldConnectionsEchoUntilTheirServerDies) {
    WhoamiTcpServer be2(lab().backend(1), 8080, "be2");
    WhoamiTcpServer be3(lab().backend(2), 8080, "be3");
    HeldConnections held(lab().client(), LbLab::backend_addr(1, 4), 8080, 40);
    HeldConnections held6(lab().client(), LbLab::backend_addr(2, 6), 8080, 10);
    ASSERT_EQ(held.size(), 40);
    EXPECT_EQ(held.opened(), 40) << describe_errors(held.open_errors());
    EXPECT_TRUE(all_are(held.names(), "be2")) << describe_names(held.names());
    EXPECT_TRUE(all_are(held6.names(), "be3")) << describe_names(held6.names());
    EXPECT_EQ(be2.accepted(), 40u);

    for (int round = 0; round < 2; ++round) {
        auto ok = held.check();
        EXPECT_EQ(ok, std::vector<bool>(40, true)) << describe_errors(held.check_errors());
    }
    // More connections meanwhile do not disturb the held ones.
    auto names = whoami_tcp_many(lab().client(), LbLab::backend_addr(1, 4), 8080, 100, 2s);
    EXPECT_TRUE(all_are(names, "be2")) << describe_names(names);

    be2.process().kill(SIGKILL);
    ASSERT_TRUE(be2.process().wait(2s));
    auto t0 = Clock::now();
    auto ok = held.check(1s);
    EXPECT_EQ(ok, std::vector<bool>(40, false));
    EXPECT_LT(ms_since(t0), 1500) << "a closed connection should fail at once";
    for (int e : held.check_errors()) EXPECT_TRUE(e == ECONNRESET || e == EPIPE) << errno_name(e);
    EXPECT_EQ(held.check(), std::vector<bool>(40, false)) << "failed connections stay failed";
    // The other backend's connections are fine.
    EXPECT_EQ(held6.check(), std::vector<bool>(10, true)) << describe_errors(held6.check_errors());

    // Nothing listening: the connections fail at open, and check() says so.
    HeldConnections refused(lab().client(), LbLab::backend_addr(1, 4), 8080, 3);
    EXPECT_EQ(refused.opened(), 0);
    EXPECT_EQ(refused.open_errors(), std::vector<int>(3, ECONNREFUSED));
    EXPECT_EQ(refused.check(), std::vector<bool>(3, false));
}

TEST_F(LbLabTest, WhoamiRejectsBadNames) {
    EXPECT_THROW(WhoamiTcpServer(lab().backend(0), 0, ""), std::invalid_argument);
    EXPECT_THROW(WhoamiUdpServer(lab().backend(0), 0, "be 1"), std::invalid_argument);
    EXPECT_THROW(WhoamiTcpServer(lab().backend(0), 0, "be1\n"), std::invalid_argument);
}

TEST_F(LbLabTest, DsrReplyFromTheVipGoesStraightToTheClient) {
    LbLab& lab = *lab_;
    lab.enable_dsr({LbLab::vip(4), LbLab::vip(6)});
    lab.enable_dsr({LbLab::vip(4)});  // again: no-op
    EXPECT_EQ(lab.dsr_vips().size(), 2u);
    for (int i = 0; i < lab.n_backends(); ++i) {
        CmdResult lo = ip_cmd(&lab.backend(i), {"-o", "addr", "show", "dev", "lo"});
        EXPECT_NE(lo.out.find("10.99.0.1/32"), std::string::npos) << lo.out;
        EXPECT_NE(lo.out.find("fd99::1/128"), std::string::npos) << lo.out;
        CmdResult rules = ip_cmd(&lab.backend(i), {"-6", "rule"});
        EXPECT_NE(rules.out.find("from fd99::1 lookup 100"), std::string::npos) << rules.out;
    }
    UdpEchoServer echo(lab.client(), 0);
    for (int v : {4, 6}) {
        int be = v == 4 ? 0 : 2;
        // The route from the VIP: on-link to the client; from the backend's
        // own address: via the LB host.
        CmdResult via_vip = ip_cmd(&lab.backend(be), {"route", "get", LbLab::client_addr(v), "from", LbLab::vip(v)});
        EXPECT_NE(via_vip.out.find("dev be0"), std::string::npos) << via_vip.out;
        EXPECT_EQ(via_vip.out.find("via"), std::string::npos) << via_vip.out;
        CmdResult via_own = ip_cmd(&lab.backend(be), {"route", "get", LbLab::client_addr(v), "from",
                                                       LbLab::backend_addr(be, v)});
        EXPECT_NE(via_own.out.find("via " + LbLab::lb_backend_side_addr(v)), std::string::npos) << via_own.out;

        uint64_t received = echo.received(), fwd = forwarded_settled(lab.lb(), v);
        UdpCapture cap(lab.client(), LbLab::kClientIf, echo.port());
        ASSERT_EQ(send_udp_from(lab.backend(be), LbLab::vip(v), LbLab::client_addr(v), echo.port(), "dsr"), 0);
        std::string seen = cap.result(2s);
        EXPECT_EQ(seen, lab.backend_mac(be) + " " + LbLab::vip(v)) << "IPv" << v << "; lb0 is " << lab.lb_mac();
        for (int i = 0; i < 100 && echo.received() == received; ++i) usleep(10000);
        EXPECT_EQ(echo.received(), received + 1) << "IPv" << v;
        EXPECT_EQ(forwarded(lab.lb(), v), fwd) << "IPv" << v << ": the LB host forwarded it";
    }
}

TEST_F(LbLabTest, DsrEndToEndWithTheLbHostRoutingTheVip) {
    // A stand-in for the XDP load balancer in DSR mode: the LB host's kernel
    // routes the VIPs to backend 2, which owns them on lo and answers
    // straight to the client, from the VIP (UDP: thanks to IPV6_PKTINFO).
    LbLab& lab = *lab_;
    lab.enable_dsr({LbLab::vip(4), LbLab::vip(6)});
    std::vector<std::unique_ptr<WhoamiTcpServer>> tcp;
    std::vector<std::unique_ptr<WhoamiUdpServer>> udp;
    for (int i = 0; i < lab.n_backends(); ++i) {
        tcp.push_back(std::make_unique<WhoamiTcpServer>(lab.backend(i), 80, LbLab::backend_name(i)));
        udp.push_back(std::make_unique<WhoamiUdpServer>(lab.backend(i), 53, LbLab::backend_name(i)));
    }
    constexpr int kN = 40;
    for (int v : {4, 6}) {
        ip_cmd(&lab.lb(), {v == 4 ? "-4" : "-6", "route", "add", LbLab::vip(v), "via", LbLab::backend_addr(1, v)});
        uint64_t fwd0 = forwarded_settled(lab.lb(), v);
        std::vector<int> errors;
        auto names = whoami_udp_many(lab.client(), LbLab::vip(v), 53, kN, 2s, &errors);
        EXPECT_TRUE(all_are(names, "be2")) << "IPv" << v << ": " << describe_names(names) << "; "
                                           << describe_errors(errors);
        uint64_t fwd = forwarded(lab.lb(), v) - fwd0;
        EXPECT_EQ(fwd, uint64_t(kN)) << "IPv" << v << ": requests only, the replies go straight";

        names = whoami_tcp_many(lab.client(), LbLab::vip(v), 80, kN, 2s, &errors);
        EXPECT_TRUE(all_are(names, "be2")) << "IPv" << v << ": " << describe_names(names) << "; "
                                           << describe_errors(errors);
        HeldConnections held(lab.client(), LbLab::vip(v), 80, 5);
        EXPECT_TRUE(all_are(held.names(), "be2")) << describe_names(held.names());
        EXPECT_EQ(held.check(), std::vector<bool>(5, true)) << describe_errors(held.check_errors());

        // NAT-mode paths are unchanged: the backend's own address answers
        // through the LB host. (Also a check that the hosts take no shortcut:
        // the client knows be2's MAC now, from be2's ARP request or neighbour
        // solicitation for the DSR replies; an ICMP redirect from the LB host
        // would now send the client to be2 directly.)
        names = whoami_tcp_many(lab.client(), LbLab::backend_addr(1, v), 80, kN, 2s, &errors);
        EXPECT_TRUE(all_are(names, "be2")) << describe_names(names) << "; " << describe_errors(errors);
        fwd0 = forwarded_settled(lab.lb(), v);
        names = whoami_udp_many(lab.client(), LbLab::backend_addr(1, v), 53, kN, 2s, &errors);
        EXPECT_TRUE(all_are(names, "be2")) << describe_names(names) << "; " << describe_errors(errors);
        EXPECT_EQ(forwarded(lab.lb(), v) - fwd0, uint64_t(2 * kN)) << "IPv" << v;
    }
    EXPECT_EQ(udp[0]->received(), 0u);
    EXPECT_EQ(udp[1]->received(), uint64_t(4 * kN));
    EXPECT_EQ(udp[2]->received(), 0u);
}

}  // namespace
}  // namespace xdpd::net
