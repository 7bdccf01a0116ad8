// The real xdpd daemon on a veth in a namespace lab, with real kernel traffic:
// the firewall enforces, monitor mode counts, restarts and reloads keep the data
// plane and its state, attach modes and coexistence behave as documented.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "baseline.skel.h"
#include "e2e/daemon_fixture.hpp"
#include "net/link.hpp"
#include "net/udp.hpp"

namespace xdpd::test {
namespace {

const char* kSshDeny = R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-ssh
      action: deny
      proto: tcp
      dport: 22
    - id: no-ping
      action: deny
      proto: icmp
      icmp_type: echo-request
    - id: no-ping6
      action: deny
      proto: icmpv6
      icmp_type: echo-request
)";

TEST_F(Daemon, DenyRuleRefusesSshWhileWebWorksIpv4AndIpv6) {
    ASSERT_TRUE(tcp(22)) << "lab broken before xdpd";
    ASSERT_TRUE(ping(4));
    ASSERT_TRUE(ping(6));
    write_config(kSshDeny);
    start();
    EXPECT_TRUE(tcp(80, 4));
    EXPECT_TRUE(tcp(80, 6));
    EXPECT_FALSE(tcp(22, 4));
    EXPECT_FALSE(tcp(22, 6));
    EXPECT_FALSE(ping(4));
    EXPECT_FALSE(ping(6));
    EXPECT_GE(rule_packets("no-ssh"), 2u);
    EXPECT_GE(rule_packets("no-ping"), 1u);
    EXPECT_GE(rule_packets("no-ping6"), 1u);
    EXPECT_GE(reason_packets("fw_deny"), 4u);
}

TEST_F(Daemon, IcmpMatchedByType) {
    write_config(R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-timestamp
      action: deny
      proto: icmp
      icmp_type: 13
)");
    start();
    EXPECT_TRUE(ping(4));  // echo-request (8) is not type 13
    EXPECT_EQ(rule_packets("no-timestamp"), 0u);
}

TEST_F(Daemon, MonitorModePassesTrafficButCountsIt) {
    std::string cfg = kSshDeny;
    cfg += "  monitor: true\n";
    write_config(cfg);
    start();
    EXPECT_TRUE(tcp(22));
    EXPECT_GE(rule_packets("no-ssh"), 1u);
    EXPECT_GE(reason_packets("fw_monitor"), 1u);
    EXPECT_EQ(reason_packets("fw_deny"), 0u);
    auto r = daemon_->cli({"monitor", "off"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(tcp(22));  // immediately, no reload
}

TEST_F(Daemon, RestartAfterCrashKeepsEnforcingAndCounters) {
    write_config(kSshDeny);
    start();
    EXPECT_FALSE(tcp(22));
    auto before = rule_packets("no-ssh");
    auto link_before = daemon_->call({{"cmd", "status"}})["interfaces"][0]["link_id"];
    ASSERT_TRUE(daemon_->cli({"reload"}).ok());
    const auto events_before = daemon_->call({{"cmd", "events"}});
    ASSERT_EQ(events_before.size(), 2u) << events_before.dump();  // start, reload
    daemon_->kill9();
    EXPECT_FALSE(tcp(22)) << "data plane must keep enforcing without the daemon";
    EXPECT_TRUE(tcp(80));
    start();
    auto st = daemon_->call({{"cmd", "status"}});
    EXPECT_EQ(st["interfaces"][0]["link_id"], link_before) << "the pinned link is adopted, not recreated";
    EXPECT_GT(rule_packets("no-ssh"), before) << "counters kept, and the drop while down was counted";
    // The event log is kept too: the same events, numbering goes on after them.
    const auto events = daemon_->call({{"cmd", "events"}});
    ASSERT_EQ(events.size(), 3u) << events.dump();
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(events[i], events_before[i]);
    EXPECT_EQ(events[2]["type"], "start");
    EXPECT_EQ(events[2]["seq"], 3);
    EXPECT_EQ(events[2]["restored"], 2);
}

TEST_F(Daemon, ALostXdpLinkIsAnEventAndReloadAttachesAgain) {
    write_config(kSshDeny);
    start();
    EXPECT_FALSE(tcp(22));
    // Another tool takes the program off: the link stays pinned but holds no interface.
    UniqueFd link(bpf_obj_get((paths_.bpffs + "/link-srv0").c_str()));
    ASSERT_TRUE(link) << std::strerror(errno);
    ASSERT_EQ(bpf_link_detach(link.get()), 0) << std::strerror(errno);
    EXPECT_TRUE(tcp(22)) << "unprotected now";
    auto event_of = [&](const std::string& type) {
        for (int i = 0; i < 50; ++i) {
            for (const auto& e : daemon_->call({{"cmd", "events"}}))
                if (e["type"] == type) return e;
            std::this_thread::sleep_for(100ms);
        }
        return nlohmann::json();
    };
    const auto lost = event_of("xdp_detached");
    ASSERT_FALSE(lost.is_null()) << daemon_->call({{"cmd", "events"}}).dump(1);
    EXPECT_EQ(lost["interface"], "srv0");
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["interfaces"][0]["attached"], false);

    auto r = daemon_->cli({"reload"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(tcp(22)) << "enforcing again after the reload";
    const auto back = event_of("xdp_attached");
    ASSERT_FALSE(back.is_null());
    EXPECT_EQ(back["interface"], "srv0");
}

TEST_F(Daemon, ReloadWithBrokenConfigKeepsOldRules) {
    write_config(kSshDeny);
    start();
    EXPECT_FALSE(tcp(22));
    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules:\n    - action: deny\n      dport: 22\n");
    auto r = daemon_->cli({"reload"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("xdpd.yaml:6:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("previous config keeps running"), std::string::npos) << r.err;
    EXPECT_FALSE(tcp(22)) << "old rules still enforced";
    EXPECT_TRUE(daemon_->running());

    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules: []\n");
    r = daemon_->cli({"reload"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_TRUE(tcp(22)) << "new rules enforced after a good reload";
}

TEST_F(Daemon, SighupReloads) {
    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules: []\n");
    start();
    EXPECT_TRUE(tcp(22));
    write_config(kSshDeny);
    daemon_->signal(SIGHUP);
    for (int i = 0; i < 200 && daemon_->call({{"cmd", "status"}})["reloads"] == 0; ++i)
        std::this_thread::sleep_for(20ms);
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["reloads"], 1);
    EXPECT_FALSE(tcp(22));
}

TEST_F(Daemon, AttachModesAreReported) {
    write_config("interfaces:\n  - name: srv0\n    mode: auto\n");
    start();
    auto st = daemon_->call({{"cmd", "status"}});
    EXPECT_EQ(st["interfaces"][0]["mode"], "native");  // veth supports native XDP
    EXPECT_NE(xdp_on_srv0().find("xdp"), std::string::npos);
    daemon_.reset();
    ASSERT_TRUE(net::exec(nullptr, {XDPD_BINARY, "--netns", lab_.server().name(), "--socket", "/nonexistent",
                                    "--bpffs", paths_.bpffs, "detach"}).ok());

    write_config("interfaces:\n  - name: srv0\n    mode: skb\n");
    start();
    st = daemon_->call({{"cmd", "status"}});
    EXPECT_EQ(st["interfaces"][0]["mode"], "skb");
    EXPECT_TRUE(tcp(80));
}

TEST_F(Daemon, RefusesInterfaceOwnedByAnotherProgramUnlessReplace) {
    // Another tool's program, attached through netlink from inside the server namespace.
    int rc = net::run_in(lab_.server(), [] {
        baseline_bpf* skel = baseline_bpf::open_and_load();
        if (!skel) return 2;
        int ifindex = int(if_nametoindex("srv0"));
        return bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xdp_pass), XDP_FLAGS_DRV_MODE, nullptr) ? 3 : 0;
    });
    ASSERT_EQ(rc, 0);
    write_config(kSshDeny);
    try {
        start();
        FAIL() << "xdpd attached over another program";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("already runs XDP program 'xdp_pass'"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(tcp(22)) << "the other program is untouched";
    start({"--replace"});
    EXPECT_FALSE(tcp(22));
}

// Link ids are global, ifindexes are per namespace: every lab's srv0 has the
// same ifindex. A bpf_link on another lab's srv0 must not be mistaken for the
// owner of ours (xdpd once "took over" that link and left ours running the
// foreign program).
TEST_F(Daemon, ReplaceTakesOverOnlyItsOwnInterface) {
    Lab other;
    auto ifindex_in = [](const net::Netns& ns) {
        return net::run_in(ns, [] { return int(if_nametoindex("srv0")); });
    };
    ASSERT_EQ(ifindex_in(other.server()), ifindex_in(lab_.server())) << "the premise: same ifindex";
    // A bpf_link on the other lab's srv0 (xdp_pass), pinned so it outlives the child.
    const std::string pin = "/sys/fs/bpf/xdpd-test-" + other.prefix();
    int rc = net::run_in(other.server(), [pin] {
        baseline_bpf* skel = baseline_bpf::open_and_load();
        if (!skel) return 2;
        int fd = bpf_link_create(bpf_program__fd(skel->progs.xdp_pass), int(if_nametoindex("srv0")), BPF_XDP, nullptr);
        return fd < 0 ? 3 : bpf_obj_pin(fd, pin.c_str()) ? 4 : 0;
    });
    ASSERT_EQ(rc, 0);
    struct Unpin {
        std::string path;
        ~Unpin() { unlink(path.c_str()); }
    } unpin{pin};
    // Ours: xdp_pass through netlink.
    rc = net::run_in(lab_.server(), [] {
        baseline_bpf* skel = baseline_bpf::open_and_load();
        if (!skel) return 2;
        return bpf_xdp_attach(int(if_nametoindex("srv0")), bpf_program__fd(skel->progs.xdp_pass), XDP_FLAGS_DRV_MODE,
                              nullptr) ? 3 : 0;
    });
    ASSERT_EQ(rc, 0);
    write_config(kSshDeny);
    start({"--replace"});
    EXPECT_FALSE(tcp(22)) << "our interface runs xdpd now";
    EXPECT_NE(daemon_->log().find("replaced program 'xdp_pass'"), std::string::npos) << daemon_->log();
    const std::string other_xdp = net::exec(&other.server(), {"ip", "-d", "link", "show", "srv0"}).out;
    EXPECT_NE(other_xdp.find("xdp_pass"), std::string::npos) << "the other lab's link is untouched:\n" << other_xdp;
}

TEST_F(Daemon, JumboMtuLoadsNativeAndCountsWholeFrames) {
    for (auto [ns, ifname] : {std::pair{&lab_.server(), "srv0"}, {&lab_.sw(), "sw-srv"}, {&lab_.sw(), "sw-cli"},
                              {&lab_.client(), "cli0"}, {&lab_.sw(), "br0"}})
        net::set_mtu(ns, ifname, 9000);
    write_config("interfaces:\n  - name: srv0\n    mode: native\n");
    start();
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["interfaces"][0]["mode"], "native");
    auto r = net::exec(&lab_.client(), {"ping", "-c", "1", "-W", "2", "-s", "8000", "-M", "do", Lab::server_addr(4)});
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    auto s = daemon_->call({{"cmd", "stats"}});
    uint64_t bytes = s["interfaces"][0]["l4"]["icmp"]["bytes"].get<uint64_t>();
    EXPECT_GE(bytes, 8000u + 28 + 14) << "bytes of all fragments of the multi-buffer frame are counted";
}

TEST_F(Daemon, DetachRemovesEverything) {
    write_config(kSshDeny);
    start();
    ASSERT_NE(xdp_on_srv0().find("prog/xdp"), std::string::npos) << xdp_on_srv0();
    auto r = daemon_->cli({"detach"});
    ASSERT_TRUE(r.ok()) << r.err;
    for (int i = 0; i < 100 && daemon_->running(); ++i) std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(daemon_->running());
    EXPECT_EQ(xdp_on_srv0().find("prog/xdp"), std::string::npos) << xdp_on_srv0();
    EXPECT_FALSE(std::filesystem::exists(paths_.bpffs));
    EXPECT_TRUE(tcp(22));
}

TEST_F(Daemon, StatsAndStatusCommandsPrintJson) {
    write_config(kSshDeny);
    start();
    tcp(22);
    auto r = daemon_->cli({"stats", "--json", "-n", "0.2", "-c", "1"});
    ASSERT_TRUE(r.ok()) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j.contains("rates"));
    EXPECT_GE(j["interfaces"][0]["actions"]["drop"]["packets"].get<uint64_t>(), 1u);
    r = daemon_->cli({"status", "--json"});
    ASSERT_TRUE(r.ok()) << r.err;
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["interfaces"][0]["name"], "srv0");
    EXPECT_GT(j["memlock_bytes"].get<uint64_t>(), 0u);
    EXPECT_EQ(j["firewall"]["rules"], 3);
}

TEST_F(Daemon, ReloadsSwapProgramsWithoutLettingAPacketThrough) {
    // A denied UDP port is hammered while the daemon reloads (and so swaps
    // programs) again and again: if any packet met "no program" or a partial
    // rule set, the server would receive it.
    write_config(R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-9000
      action: deny
      proto: udp
      dport: 9000
)");
    start();
    net::UdpEchoServer sink(lab_.server(), 9000);
    auto sender = net::Process::fork(&lab_.client(), [] {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(9000);
        inet_pton(AF_INET, Lab::server_addr(4).c_str(), &a.sin_addr);
        char buf[32] = {};
        for (;;) sendto(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        return 0;
    }, "udp sender");
    for (int i = 0; i < 10; ++i) {
        auto r = daemon_->cli({"reload"});
        ASSERT_TRUE(r.ok()) << r.err;
    }
    sender.stop();
    EXPECT_EQ(sink.received(), 0u);
    EXPECT_GT(rule_packets("no-9000"), 1000u) << "the flood did run through the reloads";
    EXPECT_EQ(daemon_->call({{"cmd", "status"}})["reloads"], 10);
}

TEST_F(Daemon, OnExitDetachRemovesTheDataPlaneOnSigterm) {
    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules: []");
    std::ofstream(paths_.config, std::ios::app) << "  on_exit: detach\n";
    start();
    ASSERT_NE(xdp_on_srv0().find("prog/xdp"), std::string::npos);
    daemon_->stop(SIGTERM);
    EXPECT_EQ(xdp_on_srv0().find("prog/xdp"), std::string::npos) << xdp_on_srv0();
    EXPECT_FALSE(std::filesystem::exists(paths_.bpffs));
}

TEST_F(Daemon, ControlSocketIsRootOnly) {
    write_config("interfaces:\n  - name: srv0\n");
    start();
    struct stat st {};
    ASSERT_EQ(stat(paths_.socket.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, 0u);
}

}  // namespace
}  // namespace xdpd::test
