// `xdpd capture`, the real binary against the real daemon, with real traffic
// in the namespace lab; files read back with tshark. Drops are captured with
// their reason and rule id, filters select exactly what they name, snap length
// and the pcap format work, capture is off after every way the process ends,
// one capture at a time.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "bpf/map.hpp"
#include "e2e/daemon_fixture.hpp"
#include "net/udp.hpp"
#include "xdpd/abi.h"

namespace xdpd::test {
namespace {

const char* kConfig = R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-ssh
      action: deny
      proto: tcp
      dport: 22
    - id: block-attacker
      action: deny
      src: 10.77.0.3/32
)";

// One packet of a capture file, as tshark decodes it.
struct Row {
    std::string comment, src, dst, proto, src6, dst6, nxt, tcp_dport, udp_dport, cap_len, len, iface;
    std::string source() const { return src.empty() ? src6 : src; }
};

std::vector<std::string> split(const std::string& line, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(line);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    if (!line.empty() && line.back() == sep) out.push_back("");
    return out;
}

class Capture : public Daemon {
protected:
    void SetUp() override {
        Daemon::SetUp();
        write_config(kConfig);
        start();
    }

    std::string file(const std::string& name) const { return paths_.dir + "/" + name; }

    xdpd_observe observe() const {
        const auto m = bpf::MapRef::open_pinned(paths_.bpffs + "/xdpd_observe", "xdpd_observe");
        return bpf::Map<__u32, xdpd_observe>(m).lookup(0).value();
    }

    std::vector<std::string> argv(std::vector<std::string> args) const {
        std::vector<std::string> a = {XDPD_BINARY, "--netns",      lab_.server().name(), "--socket",
                                      paths_.socket, "--bpffs", paths_.bpffs,         "capture"};
        a.insert(a.end(), args.begin(), args.end());
        return a;
    }

    // Starts `xdpd capture ARGS` and returns once the data plane captures for it.
    net::Process start_capture(std::vector<std::string> args) {
        auto p = net::Process::spawn(nullptr, argv(std::move(args)));
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto o = observe();
            if (o.capture == 1 && o.capture_owner == __u32(p.pid())) return p;
            if (!p.running()) break;
            std::this_thread::sleep_for(10ms);
        }
        ADD_FAILURE() << "capture did not start: " << p.err();
        return p;
    }

    // SIGTERM, then the exit code (and its stderr in *err).
    int finish(net::Process& p, std::string* err = nullptr) {
        p.kill(SIGTERM);
        const auto rc = p.wait(10s);
        if (err) *err = p.err();
        EXPECT_TRUE(rc.has_value()) << "xdpd capture did not end on SIGTERM";
        return rc.value_or(-1);
    }

    std::vector<Row> read(const std::string& path) {
        auto r = net::exec(nullptr,
                           {"tshark", "-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f",
                            "-e", "frame.comment", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.proto", "-e",
                            "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.nxt", "-e", "tcp.dstport", "-e",
                            "udp.dstport", "-e", "frame.cap_len", "-e", "frame.len", "-e", "frame.interface_name"},
                           30s);
        EXPECT_TRUE(r.ok()) << "tshark cannot read " << path << ": " << r.err;
        std::vector<Row> rows;
        std::istringstream in(r.out);
        for (std::string line; std::getline(in, line);) {
            auto f = split(line, '|');
            if (f.size() != 12) {
                ADD_FAILURE() << "tshark line: " << line;
                continue;
            }
            rows.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]});
        }
        return rows;
    }

    std::string dump(const std::vector<Row>& rows) {
        std::string s;
        for (const auto& r : rows)
            s += r.comment + " | " + r.source() + " > " + (r.dst.empty() ? r.dst6 : r.dst) + " proto " + r.proto +
                 r.nxt + " dport " + r.tcp_dport + r.udp_dport + "\n";
        return s;
    }

    void ping_sized(const net::Netns& ns, int size) {
        net::exec(&ns, {"ping", "-4", "-n", "-q", "-c", "1", "-W", "1", "-s", std::to_string(size),
                        Lab::server_addr(4)});
    }
};

TEST_F(Capture, DropsCarryVerdictReasonAndRule) {
    const std::string f = file("drops.pcapng");
    auto cap = start_capture({"--verdict", "drop", "-w", f});
    EXPECT_FALSE(tcp(22, 4));
    EXPECT_FALSE(tcp(22, 6));
    EXPECT_FALSE(ping(4, &lab_.attacker()));
    EXPECT_TRUE(tcp(80, 4));  // passes: not captured
    EXPECT_TRUE(ping(4));
    std::string err;
    ASSERT_EQ(finish(cap, &err), 0) << err;
    EXPECT_NE(err.find("packets written to " + f), std::string::npos) << err;

    const auto rows = read(f);
    int ssh4 = 0, ssh6 = 0, attacker = 0;
    for (const auto& r : rows) {
        SCOPED_TRACE(dump({r}));
        EXPECT_EQ(r.iface, "srv0");
        if (r.comment == "xdpd: verdict=drop reason=fw_deny rule=no-ssh iface=srv0 queue=0") {
            EXPECT_EQ(r.tcp_dport, "22");
            if (r.src == Lab::client_addr(4)) ++ssh4;
            if (r.src6 == Lab::client_addr(6)) ++ssh6;
        } else if (r.comment == "xdpd: verdict=drop reason=fw_deny rule=block-attacker iface=srv0 queue=0") {
            EXPECT_EQ(r.src, Lab::attacker_addr(4));
            EXPECT_EQ(r.proto, "1");
            ++attacker;
        } else {
            ADD_FAILURE() << "unexpected packet";
        }
    }
    EXPECT_GE(ssh4, 1);
    EXPECT_GE(ssh6, 1);
    EXPECT_GE(attacker, 1);
    // Every drop of those rules since the start, none missed: their counters.
    EXPECT_EQ(uint64_t(ssh4 + ssh6), rule_packets("no-ssh")) << dump(rows);
    EXPECT_EQ(uint64_t(attacker), rule_packets("block-attacker")) << dump(rows);
}

TEST_F(Capture, FiltersSelectExactly) {
    net::UdpEchoServer echo(lab_.server(), 0);
    const std::string port = std::to_string(echo.port());

    // protocol and port: the client's datagrams to the echo port, v4 and v6.
    const std::string udp = file("udp.pcapng");
    auto cap = start_capture({"--proto", "udp", "--dport", port, "-w", udp});
    ASSERT_TRUE(net::udp_exchange(lab_.client(), Lab::server_addr(4), echo.port(), "four", 2s));
    ASSERT_TRUE(net::udp_exchange(lab_.client(), Lab::server_addr(6), echo.port(), "six", 2s));
    net::udp_exchange(lab_.client(), Lab::server_addr(4), uint16_t(echo.port() + 1), "other port", 300ms);
    EXPECT_TRUE(tcp(80));
    EXPECT_TRUE(ping(4));
    ASSERT_EQ(finish(cap), 0);
    auto rows = read(udp);
    ASSERT_EQ(rows.size(), 2u) << dump(rows);
    EXPECT_EQ(rows[0].src, Lab::client_addr(4));
    EXPECT_EQ(rows[0].proto, "17");
    EXPECT_EQ(rows[1].src6, Lab::client_addr(6));
    EXPECT_EQ(rows[1].nxt, "17");
    for (const auto& r : rows) {
        EXPECT_EQ(r.udp_dport, port);
        EXPECT_EQ(r.comment, "xdpd: verdict=pass reason=default_allow iface=srv0 queue=0");
    }

    // host: the attacker's packets only (dropped), none of the client's.
    const std::string host = file("host.pcapng");
    cap = start_capture({"--host", Lab::attacker_addr(4) + "/32", "-w", host});
    EXPECT_TRUE(ping(4));
    EXPECT_FALSE(ping(4, &lab_.attacker()));
    EXPECT_TRUE(tcp(80));
    ASSERT_EQ(finish(cap), 0);
    rows = read(host);
    ASSERT_GE(rows.size(), 1u);
    for (const auto& r : rows) {
        EXPECT_EQ(r.src, Lab::attacker_addr(4)) << dump(rows);
        EXPECT_EQ(r.comment, "xdpd: verdict=drop reason=fw_deny rule=block-attacker iface=srv0 queue=0");
    }

    // A prefix with host bits set is its network: 10.77.0.3/31 is .2 and .3,
    // the client and the attacker; IPv4 only.
    const std::string src = file("src.pcapng");
    cap = start_capture({"--src", Lab::attacker_addr(4) + "/31", "--proto", "icmp", "-w", src});
    EXPECT_TRUE(ping(4));
    EXPECT_TRUE(ping(6));
    EXPECT_FALSE(ping(4, &lab_.attacker()));
    ASSERT_EQ(finish(cap), 0);
    rows = read(src);
    int client = 0, attacker = 0;
    for (const auto& r : rows) {
        EXPECT_EQ(r.proto, "1") << dump(rows);
        client += r.src == Lab::client_addr(4);
        attacker += r.src == Lab::attacker_addr(4);
    }
    EXPECT_GE(client, 1) << dump(rows);
    EXPECT_GE(attacker, 1) << dump(rows);
    EXPECT_EQ(size_t(client + attacker), rows.size()) << dump(rows);

    // --rule by id: only the packets that rule decided.
    const std::string by_rule = file("rule.pcapng");
    cap = start_capture({"--rule", "no-ssh", "-w", by_rule});
    EXPECT_FALSE(ping(4, &lab_.attacker()));
    EXPECT_FALSE(tcp(22));
    ASSERT_EQ(finish(cap), 0);
    rows = read(by_rule);
    ASSERT_GE(rows.size(), 1u);
    for (const auto& r : rows) {
        EXPECT_EQ(r.comment, "xdpd: verdict=drop reason=fw_deny rule=no-ssh iface=srv0 queue=0");
        EXPECT_EQ(r.tcp_dport, "22");
    }
}

TEST_F(Capture, SnapLengthAndPcapFormat) {
    const std::string snap = file("snap.pcapng");
    auto cap = start_capture({"-s", "100", "--proto", "icmp", "-w", snap});
    ping_sized(lab_.client(), 1000);
    ASSERT_EQ(finish(cap), 0);
    auto rows = read(snap);
    ASSERT_GE(rows.size(), 1u);
    for (const auto& r : rows) {
        EXPECT_EQ(r.cap_len, "100");
        EXPECT_EQ(r.len, "1042") << "14 + 20 + 8 + 1000 bytes on the wire";
    }

    const std::string pcap = file("old.pcap");
    cap = start_capture({"--format", "pcap", "--proto", "icmp", "-w", pcap});
    EXPECT_TRUE(ping(4));
    ASSERT_EQ(finish(cap), 0);
    std::ifstream in(pcap, std::ios::binary);
    uint32_t magic = 0;
    in.read(reinterpret_cast<char*>(&magic), 4);
    EXPECT_EQ(magic, 0xa1b23c4du) << "classic pcap, nanosecond timestamps";
    rows = read(pcap);
    ASSERT_GE(rows.size(), 1u);
    for (const auto& r : rows) {
        EXPECT_EQ(r.src, Lab::client_addr(4));
        EXPECT_EQ(r.proto, "1");
        EXPECT_EQ(r.comment, "") << "pcap has no annotations";
    }
}

TEST_F(Capture, StdoutPipesIntoTcpdumpSummaryOnStderr) {
    // -w -: the capture on stdout, read by tcpdump as it comes; --json's
    // summary goes to stderr then.
    const std::string cmd = [&] {
        std::string s;
        for (const auto& a : argv({"-w", "-", "--proto", "icmp", "-c", "2", "-j"})) s += "'" + a + "' ";
        return s + "| tcpdump -n -r - 2>/dev/null";
    }();
    auto pipeline = net::Process::spawn(nullptr, {"sh", "-c", cmd});
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (observe().capture != 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(observe().capture, 1u);
    EXPECT_TRUE(net::ping(lab_.client(), Lab::server_addr(4), 3, 2s).ok());
    const auto rc = pipeline.wait(10s);
    ASSERT_TRUE(rc.has_value()) << "the capture did not stop after -c 2";
    EXPECT_EQ(*rc, 0) << pipeline.err();
    const std::string out = pipeline.out();
    size_t lines = 0;
    for (size_t p = out.find("ICMP echo request"); p != std::string::npos; p = out.find("ICMP echo request", p + 1))
        ++lines;
    EXPECT_EQ(lines, 2u) << out;
    const auto summary = nlohmann::json::parse(pipeline.err().substr(pipeline.err().find('{')));
    EXPECT_EQ(summary["written"], 2);
    EXPECT_EQ(summary["ended"], "count");
    EXPECT_EQ(summary["file"], "stdout");
    EXPECT_EQ(observe().capture, 0u);
}

TEST_F(Capture, OffAfterEveryEnd) {
    // count
    auto cap = start_capture({"--proto", "icmp", "-c", "1", "-j", "-w", file("count.pcapng")});
    EXPECT_TRUE(ping(4));
    auto rc = cap.wait(10s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, 0) << cap.err();
    auto summary = nlohmann::json::parse(cap.out());
    EXPECT_EQ(summary["written"], 1);
    EXPECT_EQ(summary["ended"], "count");
    auto o = observe();
    EXPECT_EQ(o.capture, 0u);
    EXPECT_EQ(o.capture_owner, 0u);

    // duration
    const auto t0 = std::chrono::steady_clock::now();
    auto d = net::exec(nullptr, argv({"-d", "1", "-q", "-w", file("d.pcapng")}), 10s);
    EXPECT_TRUE(d.ok()) << d.err;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_EQ(observe().capture, 0u);

    // SIGTERM and SIGINT
    for (int sig : {SIGTERM, SIGINT}) {
        cap = start_capture({"-w", file("sig.pcapng")});
        cap.kill(sig);
        rc = cap.wait(10s);
        ASSERT_TRUE(rc.has_value());
        EXPECT_EQ(*rc, 0) << cap.err();
        o = observe();
        EXPECT_EQ(o.capture, 0u) << "signal " << sig;
        EXPECT_EQ(o.capture_owner, 0u);
    }

    // SIGKILL leaves it on, owned by a dead process: the next capture takes over.
    cap = start_capture({"-w", file("killed.pcapng")});
    cap.kill(SIGKILL);
    cap.wait(10s);
    auto next = start_capture({"--proto", "icmp", "-w", file("next.pcapng")});
    EXPECT_EQ(observe().capture_owner, __u32(next.pid()));
    EXPECT_TRUE(ping(4));
    ASSERT_EQ(finish(next), 0);
    EXPECT_GE(read(file("next.pcapng")).size(), 1u);
    EXPECT_EQ(observe().capture, 0u);
}

TEST_F(Capture, OneAtATime) {
    auto first = start_capture({"-w", file("first.pcapng")});
    auto second = net::exec(nullptr, argv({"-d", "1", "-w", file("second.pcapng")}), 10s);
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("another capture is running: pid " + std::to_string(first.pid())), std::string::npos)
        << second.err;
    auto o = observe();
    EXPECT_EQ(o.capture, 1u) << "the first capture runs on";
    EXPECT_EQ(o.capture_owner, __u32(first.pid()));
    ASSERT_EQ(finish(first), 0);
    EXPECT_EQ(observe().capture, 0u);
}

TEST_F(Capture, RuleFilterFollowsTheRuleAcrossReloadsAndEndsWhenItGoes) {
    const std::string f = file("rule.pcapng");
    auto cap = start_capture({"--rule", "no-ssh", "-w", f});
    EXPECT_FALSE(tcp(22));
    // Reordered, with a rule more: no-ssh keeps its counter slot.
    write_config(R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-telnet
      action: deny
      proto: tcp
      dport: 23
    - id: block-attacker
      action: deny
      src: 10.77.0.3/32
    - id: no-ssh
      action: deny
      proto: tcp
      dport: 22
)");
    auto r = daemon_->cli({"reload"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(tcp(22));
    EXPECT_FALSE(tcp(23));
    std::this_thread::sleep_for(2500ms);  // the capture checks the rule's slot every 2 s
    ASSERT_TRUE(cap.running()) << cap.err();
    // Without the rule, its slot is freed (and may go to another rule): the capture ends.
    write_config("interfaces:\n  - name: srv0\nfirewall:\n  rules: []\n");
    r = daemon_->cli({"reload"});
    ASSERT_TRUE(r.ok()) << r.err;
    const auto rc = cap.wait(10s);
    ASSERT_TRUE(rc.has_value()) << "the capture goes on after its rule was removed";
    EXPECT_EQ(*rc, 0);
    EXPECT_NE(cap.err().find("rule no-ssh no longer holds counter slot"), std::string::npos) << cap.err();
    EXPECT_EQ(observe().capture, 0u);
    const auto rows = read(f);
    EXPECT_GE(rows.size(), 2u) << "before and after the first reload" << dump(rows);
    for (const auto& row : rows) {
        EXPECT_EQ(row.comment, "xdpd: verdict=drop reason=fw_deny rule=no-ssh iface=srv0 queue=0");
        EXPECT_EQ(row.tcp_dport, "22");
    }
}

TEST_F(Capture, BadOptionsSayWhatIsValid) {
    auto r = net::exec(nullptr, argv({"--verdict", "dropped", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("unknown verdict 'dropped' (valid: aborted drop pass tx redirect)"), std::string::npos)
        << r.err;
    r = net::exec(nullptr, argv({"--reason", "fw_denied", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("unknown reason 'fw_denied'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fw_deny"), std::string::npos) << r.err;
    r = net::exec(nullptr, argv({"--rule", "no-such-rule", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("ids: no-ssh block-attacker"), std::string::npos) << r.err;
    r = net::exec(nullptr, argv({"--host", "10.0.0.0/33", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not an IPv4 prefix length (0-32)"), std::string::npos) << r.err;
    r = net::exec(nullptr, argv({"--dport", "70000", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not a port (1-65535)"), std::string::npos) << r.err;
    r = net::exec(nullptr, argv({"-i", "eth9", "-w", file("x")}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("eth9 is not attached"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("attached: srv0"), std::string::npos) << r.err;
    // No data plane at all: say how to start one.
    r = net::exec(nullptr, {XDPD_BINARY, "--bpffs", paths_.bpffs + "-none", "--socket", paths_.socket + ".none",
                            "capture", "-w", file("x")});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("xdpd run"), std::string::npos) << r.err;
    EXPECT_EQ(observe().capture, 0u) << "no refused capture switched it on";
}

}  // namespace
}  // namespace xdpd::test
