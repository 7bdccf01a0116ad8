// The YAML config: model, parser, validator. Every error is asserted with its
// exact position and text, so that a message that drifts fails here.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"

using namespace xdpd;
using namespace xdpd::config;

namespace {

// The diagnostics of a config that must fail; adds a test failure if it loads.
std::vector<Diagnostic> errors_of(const std::string& yaml) {
    try {
        load_string(yaml, "t.yaml");
    } catch (const ConfigError& e) {
        return e.diagnostics;
    }
    ADD_FAILURE() << "config loaded, but errors were expected:\n" << yaml;
    return {};
}

// The one error of a config, as "t.yaml:line:col: error: message".
std::string error_of(const std::string& yaml) {
    auto d = errors_of(yaml);
    if (d.size() != 1) {
        std::string all;
        for (const auto& x : d) all += "\n  " + x.str();
        ADD_FAILURE() << "expected exactly one error, got " << d.size() << ":" << all;
        return d.empty() ? "" : d[0].str();
    }
    return d[0].str();
}

const std::string kIfaces = "interfaces:\n  - name: eth0\n";  // lines 1-2

// A config with eth0 and the given firewall rules starting at line 5.
std::string with_rules(const std::string& rules) {
    return kIfaces + "firewall:\n  rules:\n" + rules;
}

std::string bytes(const fw::Cidr& c, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += std::to_string(c.addr[i]) + (i + 1 < n ? "." : "");
    return s;
}

}  // namespace

// ---- a full config -----------------------------------------------------------

TEST(ConfigLoad, FullConfigRoundTrip) {
    const std::string yaml = R"(interfaces:
  - name: eth0
    mode: native
  - name: eth1
    mode: skb
  - name: ens1f0
    mode: hw
  - name: veth-a
    mode: auto
parser:
  malformed: pass
firewall:
  enabled: true
  default: deny
  monitor: true
  rules:
    - id: block-ssh
      action: deny
      family: ipv4
      src: 10.0.0.0/8
      dst: 192.0.2.1
      proto: tcp
      sport: 1024-65535
      dport: 22
      tcp_flags: "syn,!ack"
      vlan: 100
      iface: eth0
    - action: allow
      family: ipv6
      src: 2001:db8::/32
      dst: "2001:db8:1::/48"
      proto: udp
      sport: "53"
      dport: 5000 - 5010
    - id: ping
      action: count
      proto: icmp
      icmp_type: echo-request
      icmp_code: 0
    - action: allow
      proto: icmpv6
      icmp_type: neighbor-solicitation
    - action: deny
      proto: 47
      iface: veth-a
daemon:
  socket: /tmp/xdpd-test.sock
  bpffs: /sys/fs/bpf/xdpd-test
  on_exit: detach
  log_level: debug
)";
    Config c = load_string(yaml, "full.yaml");
    EXPECT_EQ(c.path, "full.yaml");
    EXPECT_TRUE(c.warnings.empty());

    ASSERT_EQ(c.interfaces.size(), 4u);
    EXPECT_EQ(c.interfaces[0].name, "eth0");
    EXPECT_EQ(c.interfaces[0].mode, AttachMode::native);
    EXPECT_EQ(c.interfaces[0].origin, "full.yaml:2");
    EXPECT_EQ(c.interfaces[1].name, "eth1");
    EXPECT_EQ(c.interfaces[1].mode, AttachMode::skb);
    EXPECT_EQ(c.interfaces[1].origin, "full.yaml:4");
    EXPECT_EQ(c.interfaces[2].name, "ens1f0");
    EXPECT_EQ(c.interfaces[2].mode, AttachMode::hw);
    EXPECT_EQ(c.interfaces[3].name, "veth-a");
    EXPECT_EQ(c.interfaces[3].mode, AttachMode::automatic);
    EXPECT_EQ(c.interfaces[3].origin, "full.yaml:8");

    EXPECT_EQ(c.malformed_action, __u32(XDPD_ACT_PASS));
    EXPECT_TRUE(c.firewall_enabled);
    EXPECT_TRUE(c.monitor);
    EXPECT_EQ(c.rules.default_action, fw::Action::deny);
    ASSERT_EQ(c.rules.rules.size(), 5u);

    const fw::Rule& r0 = c.rules.rules[0];
    EXPECT_EQ(r0.id, "block-ssh");
    EXPECT_EQ(r0.action, fw::Action::deny);
    EXPECT_EQ(r0.origin, "full.yaml:17");
    EXPECT_EQ(r0.match.family, 4);
    ASSERT_TRUE(r0.match.src);
    EXPECT_EQ(r0.match.src->family, 4);
    EXPECT_EQ(r0.match.src->prefix, 8);
    EXPECT_EQ(bytes(*r0.match.src, 4), "10.0.0.0");
    ASSERT_TRUE(r0.match.dst);
    EXPECT_EQ(r0.match.dst->prefix, 32);
    EXPECT_EQ(bytes(*r0.match.dst, 4), "192.0.2.1");
    EXPECT_EQ(r0.match.proto, IPPROTO_TCP);
    ASSERT_TRUE(r0.match.sport);
    EXPECT_EQ(r0.match.sport->lo, 1024);
    EXPECT_EQ(r0.match.sport->hi, 65535);
    ASSERT_TRUE(r0.match.dport);
    EXPECT_EQ(r0.match.dport->lo, 22);
    EXPECT_EQ(r0.match.dport->hi, 22);
    ASSERT_TRUE(r0.match.tcp_flags);
    EXPECT_EQ(r0.match.tcp_flags->value, 0x02);  // syn set
    EXPECT_EQ(r0.match.tcp_flags->mask, 0x12);   // syn and ack looked at
    EXPECT_EQ(r0.match.vlan, 100);
    EXPECT_EQ(r0.match.iface, "eth0");
    EXPECT_FALSE(r0.match.ifindex);
    EXPECT_FALSE(r0.match.icmp_type);
    EXPECT_FALSE(r0.match.icmp_code);
    EXPECT_EQ(r0.describe(),
              "deny ipv4 tcp src 10.0.0.0/8 dst 192.0.2.1/32 sport 1024-65535 dport 22 "
              "flags syn,!ack vlan 100 iif eth0");

    const fw::Rule& r1 = c.rules.rules[1];
    EXPECT_EQ(r1.id, "");
    EXPECT_EQ(r1.action, fw::Action::allow);
    EXPECT_EQ(r1.origin, "full.yaml:28");
    EXPECT_EQ(r1.match.family, 6);
    ASSERT_TRUE(r1.match.src && r1.match.dst);
    EXPECT_EQ(r1.match.src->family, 6);
    EXPECT_EQ(r1.match.src->str(), "2001:db8::/32");
    EXPECT_EQ(r1.match.dst->str(), "2001:db8:1::/48");
    EXPECT_EQ(r1.match.proto, IPPROTO_UDP);
    EXPECT_EQ(r1.match.sport->lo, 53);
    EXPECT_EQ(r1.match.sport->hi, 53);
    EXPECT_EQ(r1.match.dport->lo, 5000);
    EXPECT_EQ(r1.match.dport->hi, 5010);
    EXPECT_FALSE(r1.match.vlan);
    EXPECT_FALSE(r1.match.iface);

    const fw::Rule& r2 = c.rules.rules[2];
    EXPECT_EQ(r2.id, "ping");
    EXPECT_EQ(r2.action, fw::Action::count);
    EXPECT_EQ(r2.origin, "full.yaml:35");
    EXPECT_EQ(r2.match.proto, IPPROTO_ICMP);
    EXPECT_EQ(r2.match.icmp_type, 8);
    EXPECT_EQ(r2.match.icmp_code, 0);
    EXPECT_FALSE(r2.match.family);
    EXPECT_EQ(r2.match.implied_family(), 4);

    const fw::Rule& r3 = c.rules.rules[3];
    EXPECT_EQ(r3.match.proto, IPPROTO_ICMPV6);
    EXPECT_EQ(r3.match.icmp_type, 135);
    EXPECT_FALSE(r3.match.icmp_code);
    EXPECT_EQ(r3.origin, "full.yaml:40");

    const fw::Rule& r4 = c.rules.rules[4];
    EXPECT_EQ(r4.match.proto, 47);
    EXPECT_EQ(r4.match.iface, "veth-a");
    EXPECT_EQ(r4.describe(), "deny proto 47 iif veth-a");

    EXPECT_EQ(c.daemon.socket, "/tmp/xdpd-test.sock");
    EXPECT_EQ(c.daemon.bpffs, "/sys/fs/bpf/xdpd-test");
    EXPECT_TRUE(c.daemon.detach_on_exit);
    EXPECT_EQ(c.daemon.log_level, "debug");
}

TEST(ConfigLoad, Defaults) {
    Config c = load_string("interfaces:\n  - name: eth0\n");
    EXPECT_EQ(c.path, "<config>");
    ASSERT_EQ(c.interfaces.size(), 1u);
    EXPECT_EQ(c.interfaces[0].name, "eth0");
    EXPECT_EQ(c.interfaces[0].mode, AttachMode::automatic);
    EXPECT_EQ(c.interfaces[0].origin, "<config>:2");
    EXPECT_EQ(c.malformed_action, __u32(XDPD_ACT_DROP));
    EXPECT_FALSE(c.firewall_enabled);
    EXPECT_FALSE(c.monitor);
    EXPECT_TRUE(c.rules.rules.empty());
    EXPECT_EQ(c.rules.default_action, fw::Action::allow);
    EXPECT_EQ(c.daemon.socket, "/run/xdpd/xdpd.sock");
    EXPECT_EQ(c.daemon.bpffs, "/sys/fs/bpf/xdpd");
    EXPECT_FALSE(c.daemon.detach_on_exit);
    EXPECT_EQ(c.daemon.log_level, "info");
    EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigLoad, FirewallSectionTurnsFirewallOn) {
    EXPECT_TRUE(load_string(kIfaces + "firewall:\n").firewall_enabled);
    EXPECT_TRUE(load_string(kIfaces + "firewall:\n  default: deny\n").firewall_enabled);
    Config off = load_string(kIfaces + "firewall:\n  enabled: false\n  default: deny\n");
    EXPECT_FALSE(off.firewall_enabled);
    EXPECT_EQ(off.rules.default_action, fw::Action::deny);  // still read
    Config on = load_string(kIfaces + "firewall:\n  enabled: true\n  rules: []\n");
    EXPECT_TRUE(on.firewall_enabled);
    EXPECT_FALSE(on.monitor);
    EXPECT_EQ(load_string(kIfaces + "daemon:\n  on_exit: keep\n").daemon.detach_on_exit, false);
}

TEST(ConfigLoad, EventLogBesideTheSocketUnlessSetOrOff) {
    EXPECT_EQ(event_log_path(load_string(kIfaces).daemon), "/run/xdpd/xdpd.events.jsonl");
    EXPECT_EQ(event_log_path(load_string(kIfaces + "daemon:\n  socket: /tmp/a/ctl\n").daemon), "/tmp/a/ctl.events.jsonl");
    EXPECT_EQ(event_log_path(load_string(kIfaces + "daemon:\n  event_log: /var/log/xdpd.jsonl\n").daemon),
              "/var/log/xdpd.jsonl");
    EXPECT_EQ(event_log_path(load_string(kIfaces + "daemon:\n  event_log: off\n").daemon), "");
    EXPECT_EQ(error_of(kIfaces + "daemon:\n  event_log: logs/x\n"),
              "t.yaml:4:14: error: event_log must be an absolute file path or off, got 'logs/x'");
}

TEST(ConfigLoad, AttachModeNames) {
    EXPECT_STREQ(to_string(AttachMode::native), "native");
    EXPECT_STREQ(to_string(AttachMode::skb), "skb");
    EXPECT_STREQ(to_string(AttachMode::hw), "hw");
    EXPECT_STREQ(to_string(AttachMode::automatic), "auto");
}

TEST(ConfigLoad, IcmpTypeNamesResolvePerProtocol) {
    Config c = load_string(with_rules(R"(    - {action: allow, proto: icmp, icmp_type: echo-request}
    - {action: allow, proto: icmpv6, icmp_type: echo-request}
    - {action: allow, proto: icmp, icmp_type: destination-unreachable}
    - {action: allow, proto: icmpv6, icmp_type: destination-unreachable}
    - {action: allow, proto: icmp, icmp_type: echo-reply}
    - {action: allow, proto: icmpv6, icmp_type: echo-reply}
    - {action: allow, proto: icmp, icmp_type: time-exceeded}
    - {action: allow, proto: icmpv6, icmp_type: time-exceeded}
    - {action: allow, proto: icmp, icmp_type: parameter-problem}
    - {action: allow, proto: icmpv6, icmp_type: parameter-problem}
    - {action: allow, proto: icmp, icmp_type: redirect}
    - {action: allow, proto: icmpv6, icmp_type: packet-too-big}
    - {action: allow, proto: icmpv6, icmp_type: router-solicitation}
    - {action: allow, proto: icmpv6, icmp_type: router-advertisement}
    - {action: allow, proto: icmpv6, icmp_type: neighbor-solicitation}
    - {action: allow, proto: icmpv6, icmp_type: neighbor-advertisement}
    - {action: allow, proto: 58, icmp_type: echo-request}
    - {action: allow, proto: icmp, icmp_type: 200}
)"));
    std::vector<int> types;
    for (const auto& r : c.rules.rules) types.push_back(*r.match.icmp_type);
    EXPECT_EQ(types, (std::vector<int>{8, 128, 3, 1, 0, 129, 11, 3, 12, 4, 5, 2, 133, 134, 135, 136,
                                       128, 200}));
}

TEST(ConfigLoad, IcmpCodeWithoutTypeIsAllowed) {
    Config c = load_string(with_rules("    - {action: deny, proto: icmp, icmp_code: 4}\n"));
    ASSERT_EQ(c.rules.rules.size(), 1u);
    EXPECT_FALSE(c.rules.rules[0].match.icmp_type);
    EXPECT_EQ(c.rules.rules[0].match.icmp_code, 4);
}

TEST(ConfigLoad, FileRoundTripAndOrigins) {
    char path[] = "/tmp/xdpd-config-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    {
        std::ofstream out(path);
        out << with_rules("    - {action: deny, proto: udp, dport: 53}\n");
    }
    Config c = load_file(path);
    std::remove(path);
    EXPECT_EQ(c.path, path);
    ASSERT_EQ(c.rules.rules.size(), 1u);
    EXPECT_EQ(c.rules.rules[0].origin, std::string(path) + ":5");
    EXPECT_EQ(c.interfaces[0].origin, std::string(path) + ":2");
}

TEST(ConfigLoad, MissingFile) {
    try {
        load_file("/nonexistent/xdpd.yaml");
        FAIL() << "loaded a missing file";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "/nonexistent/xdpd.yaml: error: cannot read: No such file or directory");
        ASSERT_EQ(e.diagnostics.size(), 1u);
        EXPECT_EQ(e.diagnostics[0].file, "/nonexistent/xdpd.yaml");
        EXPECT_EQ(e.diagnostics[0].line, 0);
        EXPECT_EQ(e.diagnostics[0].message, "cannot read: No such file or directory");
    }
}

TEST(ConfigLoad, DirectoryIsNotReadable) {
    try {
        load_file("/tmp");
        FAIL() << "loaded a directory";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "/tmp: error: cannot read: Is a directory");
    }
}

// ---- diagnostics ---------------------------------------------------------------

TEST(ConfigDiagnostic, Format) {
    Diagnostic d{"x.yaml", 12, 13, "dport needs proto tcp or udp (rule 3)", false};
    EXPECT_EQ(d.str(), "x.yaml:12:13: error: dport needs proto tcp or udp (rule 3)");
    d.warning = true;
    EXPECT_EQ(d.str(), "x.yaml:12:13: warning: dport needs proto tcp or udp (rule 3)");
    Diagnostic nopos{"x.yaml", 0, 0, "cannot read: Permission denied", false};
    EXPECT_EQ(nopos.str(), "x.yaml: error: cannot read: Permission denied");
}

TEST(ConfigDiagnostic, YamlSyntaxErrorPosition) {
    auto d = errors_of("interfaces:\n  - name: eth0\nfirewall:\n  rules: [ {action: deny}\n");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].file, "t.yaml");
    EXPECT_EQ(d[0].line, 5);
    EXPECT_EQ(d[0].column, 1);
    EXPECT_EQ(d[0].str(), "t.yaml:5:1: error: invalid YAML: end of sequence flow not found");

    EXPECT_EQ(error_of("interfaces:\n  - name: eth0\n   mode: skb\n"),
              "t.yaml:3:4: error: invalid YAML: end of sequence not found");
}

TEST(ConfigDiagnostic, WhatJoinsAllErrorsInFileOrder) {
    try {
        load_string(kIfaces + "daemon:\n  log_level: loud\nparser:\n  malformed: maybe\n",
                    "j.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "j.yaml:4:14: error: log_level must be trace, debug, info, warn or error, got "
                     "'loud'\n"
                     "j.yaml:6:14: error: malformed must be drop or pass, got 'maybe'");
    }
}

// ---- structure: unknown keys, types, required keys ---------------------------------

TEST(ConfigErrors, UnknownKeySuggestsTheNearOne) {
    EXPECT_EQ(error_of(kIfaces + "firewal:\n  default: deny\n"),
              "t.yaml:3:1: error: unknown top-level key 'firewal', did you mean 'firewall'?");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: tcp\n      dprot: 22\n")),
              "t.yaml:7:7: error: unknown rule key 'dprot', did you mean 'dport'? (rule 1)");
    EXPECT_EQ(error_of("interfaces:\n  - name: eth0\n    mdoe: skb\n"),
              "t.yaml:3:5: error: unknown interface key 'mdoe', did you mean 'mode'?");
    EXPECT_EQ(error_of(kIfaces + "daemon:\n  on-exit: detach\n"),
              "t.yaml:4:3: error: unknown daemon key 'on-exit', did you mean 'on_exit'?");
    EXPECT_EQ(error_of(kIfaces + "parser:\n  malformd: pass\n"),
              "t.yaml:4:3: error: unknown parser key 'malformd', did you mean 'malformed'?");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  Default: deny\n"),
              "t.yaml:4:3: error: unknown firewall key 'Default', did you mean 'default'?");
}

TEST(ConfigErrors, UnknownKeyWithoutSuggestionListsKnownKeys) {
    EXPECT_EQ(error_of(kIfaces + "logging: {}\n"),
              "t.yaml:3:1: error: unknown top-level key 'logging'; known keys: interfaces, "
              "parser, firewall, shield, syncookies, mitigation, lb, steer, metrics, events, daemon");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  policy: deny\n"),
              "t.yaml:4:3: error: unknown firewall key 'policy'; known keys: enabled, default, "
              "monitor, rules");
}

TEST(ConfigErrors, WrongTypes) {
    EXPECT_EQ(error_of("interfaces:\n  name: eth0\n"),
              "t.yaml:2:3: error: 'interfaces' must be a list, got a map");
    EXPECT_EQ(error_of("- interfaces\n"),
              "t.yaml:1:1: error: the config must be a map of keys, got a list");
    EXPECT_EQ(error_of("interfaces:\n  - eth0\n"),
              "t.yaml:2:5: error: an interface must be a map like '{name: eth0}', got 'eth0'");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  rules:\n    action: deny\n"),
              "t.yaml:5:5: error: rules must be a list, got a map");
    EXPECT_EQ(error_of(with_rules("    - deny\n")),
              "t.yaml:5:7: error: a rule must be a map of keys, got 'deny' (rule 1)");
    EXPECT_EQ(error_of(kIfaces + "firewall: [a]\n"),
              "t.yaml:3:11: error: firewall must be a map of keys, got a list");
    EXPECT_EQ(error_of(kIfaces + "daemon: yes\n"),
              "t.yaml:3:9: error: daemon must be a map of keys, got 'yes'");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: tcp\n      dport: [22, 80]\n")),
              "t.yaml:7:14: error: dport must be a single value, got a list (rule 1)");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  monitor: yes\n"),
              "t.yaml:4:12: error: monitor must be true or false, got 'yes'");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  enabled:\n"),
              "t.yaml:4:3: error: enabled has no value");
}

TEST(ConfigErrors, MissingRequiredKeys) {
    EXPECT_EQ(error_of("daemon:\n  log_level: info\n"),
              "t.yaml:1:1: error: 'interfaces' is missing: list the interfaces to attach to");
    EXPECT_EQ(error_of(""),
              "t.yaml: error: the config is empty; it needs at least an 'interfaces' list");
    EXPECT_EQ(error_of(with_rules("    - id: x\n      proto: tcp\n")),
              "t.yaml:5:7: error: a rule needs an action: allow, deny, count or steer (rule 1)");
    EXPECT_EQ(error_of("interfaces:\n  - mode: skb\n"),
              "t.yaml:2:5: error: an interface needs a name");
}

TEST(ConfigErrors, EmptyInterfaceList) {
    EXPECT_EQ(error_of("interfaces: []\n"),
              "t.yaml:1:13: error: 'interfaces' is empty: list at least one interface");
    EXPECT_EQ(error_of("interfaces:\nfirewall:\n"),
              "t.yaml:1:1: error: 'interfaces' is empty: list at least one interface");
}

TEST(ConfigErrors, DuplicateKey) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      action: allow\n")),
              "t.yaml:6:7: error: 'action' is given twice (first on line 5) (rule 1)");
}

TEST(ConfigErrors, MoreThanOneDocument) {
    EXPECT_EQ(error_of(kIfaces + "---\n" + kIfaces),
              "t.yaml:4:1: error: the file holds 2 YAML documents; a config is one");
}

// ---- values -----------------------------------------------------------------------

TEST(ConfigErrors, EnumValues) {
    EXPECT_EQ(error_of("interfaces:\n  - name: eth0\n    mode: natve\n"),
              "t.yaml:3:11: error: mode must be native, skb, hw or auto, got 'natve'; did you mean "
              "'native'?");
    EXPECT_EQ(error_of(with_rules("    - action: drop\n")),
              "t.yaml:5:15: error: action must be allow, deny, count or steer, got 'drop' (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      family: inet6\n")),
              "t.yaml:6:15: error: family must be ipv4 or ipv6, got 'inet6' (rule 1)");
    EXPECT_EQ(error_of(kIfaces + "firewall:\n  default: reject\n"),
              "t.yaml:4:12: error: default must be allow or deny, got 'reject'");
    EXPECT_EQ(error_of(kIfaces + "daemon:\n  on_exit: detach-all\n"),
              "t.yaml:4:12: error: on_exit must be keep or detach, got 'detach-all'");
}

TEST(ConfigErrors, InterfaceNames) {
    EXPECT_EQ(error_of("interfaces:\n  - name: a-very-long-ifname\n"),
              "t.yaml:2:11: error: invalid interface name: 'a-very-long-ifname' is 18 characters, "
              "the kernel allows at most 15");
    EXPECT_EQ(error_of("interfaces:\n  - name: \"\"\n"),
              "t.yaml:2:11: error: invalid interface name: the name is empty");
    EXPECT_EQ(error_of("interfaces:\n  - name: eth0/1\n"),
              "t.yaml:2:11: error: invalid interface name: 'eth0/1' contains '/', which interface "
              "names cannot hold");
    // 15 characters is fine.
    EXPECT_EQ(load_string("interfaces:\n  - name: abcdefghijklmno\n").interfaces[0].name,
              "abcdefghijklmno");
}

TEST(ConfigErrors, DuplicateInterface) {
    EXPECT_EQ(
        error_of("interfaces:\n  - name: eth0\n  - name: eth1\n  - name: eth0\n    mode: skb\n"),
        "t.yaml:4:11: error: interface 'eth0' is listed twice (first on line 2)");
}

TEST(ConfigErrors, DuplicateRuleId) {
    EXPECT_EQ(error_of(with_rules("    - id: web\n      action: allow\n"
                                  "    - id: other\n      action: allow\n"
                                  "    - action: deny\n      id: web\n")),
              "t.yaml:10:11: error: rule id 'web' is already used by rule 1 on line 5 (rule 3)");
}

TEST(ConfigErrors, RuleId) {
    EXPECT_EQ(error_of(with_rules("    - id: block ssh\n      action: deny\n")),
              "t.yaml:5:11: error: invalid id 'block ssh': use 1-64 characters from A-Z a-z 0-9 _ "
              ". : - (rule 1)");
    std::string id65(65, 'a');
    EXPECT_EQ(error_of(with_rules("    - id: " + id65 + "\n      action: deny\n")),
              "t.yaml:5:11: error: invalid id '" + id65 +
                  "': use 1-64 characters from A-Z a-z 0-9 _ . : - (rule 1)");
    std::string id64 = "Aa0_.:-" + std::string(57, 'z');
    EXPECT_EQ(load_string(with_rules("    - id: \"" + id64 + "\"\n      action: deny\n"))
                  .rules.rules[0]
                  .id,
              id64);
}

TEST(ConfigErrors, Addresses) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      src: 10.0.0.1/8\n")),
              "t.yaml:6:12: error: invalid src '10.0.0.1/8': '10.0.0.1/8' has host bits set beyond "
              "/8 (did you mean 10.0.0.0/8?) (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      dst: 300.1.1.1\n")),
              "t.yaml:6:12: error: invalid dst '300.1.1.1': '300.1.1.1' is not an IPv4 or IPv6 "
              "address (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      dst: 10.0.0.0/33\n")),
              "t.yaml:6:12: error: invalid dst '10.0.0.0/33': IPv4 prefix length 33 is over 32 "
              "(rule 1)");
}

TEST(ConfigErrors, Proto) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: sctp\n")),
              "t.yaml:6:14: error: proto must be tcp, udp, icmp, icmpv6 or a number 0-255, got "
              "'sctp' (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: 256\n")),
              "t.yaml:6:14: error: proto must be tcp, udp, icmp, icmpv6 or a number 0-255, got "
              "'256' (rule 1)");
}

TEST(ConfigErrors, PortRanges) {
    auto rule = [](const std::string& dport) {
        return with_rules("    - action: deny\n      proto: tcp\n      dport: " + dport + "\n");
    };
    EXPECT_EQ(
        error_of(rule("2000-1000")),
        "t.yaml:7:14: error: invalid dport '2000-1000': the range is backwards: 2000 is above "
        "1000 (rule 1)");
    EXPECT_EQ(error_of(rule("70000")),
              "t.yaml:7:14: error: invalid dport '70000': 70000 is above 65535 (rule 1)");
    EXPECT_EQ(error_of(rule("1-65536")),
              "t.yaml:7:14: error: invalid dport '1-65536': 65536 is above 65535 (rule 1)");
    EXPECT_EQ(error_of(rule("ssh")),
              "t.yaml:7:14: error: invalid dport 'ssh': 'ssh' is not a port number; use N or LO-HI "
              "with ports 0-65535 (rule 1)");
    EXPECT_EQ(error_of(rule("0x16")),
              "t.yaml:7:14: error: invalid dport '0x16': '0x16' is not a port number; use N or "
              "LO-HI with ports 0-65535 (rule 1)");
    EXPECT_EQ(error_of(rule("-1")),
              "t.yaml:7:14: error: invalid dport '-1': '-1' is not a port range; use N or LO-HI "
              "with ports 0-65535 (rule 1)");
    Config ok = load_string(rule("0-65535"));
    EXPECT_EQ(ok.rules.rules[0].match.dport->lo, 0);
    EXPECT_EQ(ok.rules.rules[0].match.dport->hi, 65535);
    Config same = load_string(rule("443-443"));
    EXPECT_EQ(same.rules.rules[0].match.dport->lo, 443);
    EXPECT_EQ(same.rules.rules[0].match.dport->hi, 443);
}

TEST(ConfigErrors, VlanAndIcmpRanges) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      vlan: 4095\n")),
              "t.yaml:6:13: error: vlan 4095 is out of range 1-4094 (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      vlan: 0\n")),
              "t.yaml:6:13: error: vlan 0 is out of range 1-4094 (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      vlan: ten\n")),
              "t.yaml:6:13: error: vlan must be a number 1-4094, got 'ten' (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - {action: deny, proto: icmp, icmp_type: 256}\n")),
              "t.yaml:5:46: error: icmp_type 256 is out of range 0-255 (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - {action: deny, proto: icmp, icmp_code: 300}\n")),
              "t.yaml:5:46: error: icmp_code 300 is out of range 0-255 (rule 1)");
}

TEST(ConfigErrors, TcpFlags) {
    EXPECT_EQ(
        error_of(with_rules("    - action: deny\n      proto: tcp\n      tcp_flags: syn,fyn\n")),
        "t.yaml:7:18: error: invalid tcp_flags 'syn,fyn': unknown TCP flag 'fyn' (known: fin "
        "syn rst psh ack urg ece cwr) (rule 1)");
}

TEST(ConfigErrors, IcmpNames) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: icmp\n"
                                  "      icmp_type: neighbor-solicitation\n")),
              "t.yaml:7:18: error: icmp_type 'neighbor-solicitation' is an ICMPv6 type, but proto "
              "is icmp (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: icmpv6\n"
                                  "      icmp_type: redirect\n")),
              "t.yaml:7:18: error: icmp_type 'redirect' is an ICMP (IPv4) type, but proto is "
              "icmpv6 (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: icmp\n"
                                  "      icmp_type: echo-requets\n")),
              "t.yaml:7:18: error: unknown icmp_type 'echo-requets' for proto icmp; use a number "
              "0-255 or one of: echo-reply, destination-unreachable, redirect, echo-request, "
              "time-exceeded, parameter-problem; did you mean 'echo-request'? (rule 1)");
}

TEST(ConfigErrors, IfaceMustBeConfigured) {
    EXPECT_EQ(error_of("interfaces:\n  - name: eth0\n  - name: eth1\nfirewall:\n  rules:\n"
                       "    - action: deny\n      iface: eth2\n"),
              "t.yaml:7:14: error: iface 'eth2' is not in 'interfaces' (eth0, eth1) (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      iface: eht0\n")),
              "t.yaml:6:14: error: iface 'eht0' is not in 'interfaces' (eth0); did you mean "
              "'eth0'? (rule 1)");
}

TEST(ConfigErrors, NoCascadeFromBrokenInterfaces) {
    EXPECT_EQ(error_of("interfaces: eth0\nfirewall:\n  rules:\n    - {action: deny, iface: eth0}\n"),
              "t.yaml:1:13: error: 'interfaces' must be a list, got 'eth0'");
}

TEST(ConfigErrors, Daemon) {
    EXPECT_EQ(error_of(kIfaces + "daemon:\n  bpffs: sys/fs/bpf\n"),
              "t.yaml:4:10: error: bpffs must be an absolute path (under a bpf filesystem, e.g. "
              "/sys/fs/bpf/xdpd), got 'sys/fs/bpf'");
    EXPECT_EQ(error_of(kIfaces + "daemon:\n  socket: /" + std::string(110, 's') + "\n"),
              "t.yaml:4:11: error: socket path is 111 characters, a Unix socket path holds at most "
              "107");
}

// ---- checks between the fields of a rule ---------------------------------------------

TEST(ConfigErrors, PortsNeedTcpOrUdp) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      dport: 22\n")),
              "t.yaml:6:7: error: dport needs proto tcp or udp (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: icmp\n      sport: 22\n")),
              "t.yaml:7:7: error: sport needs proto tcp or udp, not icmp (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: 47\n      sport: 22\n")),
              "t.yaml:7:7: error: sport needs proto tcp or udp, not 47 (rule 1)");
    // Key order does not matter: proto after the ports.
    Config c = load_string(with_rules("    - action: deny\n      dport: 22\n      proto: udp\n"));
    EXPECT_EQ(c.rules.rules[0].match.dport->lo, 22);
    // proto given as a number counts.
    Config n = load_string(with_rules("    - action: deny\n      proto: 6\n      dport: 22\n"));
    EXPECT_EQ(n.rules.rules[0].match.proto, IPPROTO_TCP);
}

TEST(ConfigErrors, TcpFlagsNeedTcp) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: udp\n      tcp_flags: syn\n")),
              "t.yaml:7:7: error: tcp_flags needs proto tcp, not udp (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      tcp_flags: syn\n")),
              "t.yaml:6:7: error: tcp_flags needs proto tcp (rule 1)");
}

TEST(ConfigErrors, IcmpFieldsNeedIcmp) {
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      icmp_type: 8\n")),
              "t.yaml:6:7: error: icmp_type needs proto icmp or icmpv6 (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      proto: tcp\n      icmp_code: 0\n")),
              "t.yaml:7:7: error: icmp_code needs proto icmp or icmpv6, not tcp (rule 1)");
    EXPECT_EQ(error_of(with_rules("    - action: deny\n      icmp_type: echo-request\n")),
              "t.yaml:6:7: error: icmp_type needs proto icmp or icmpv6 (rule 1)");
}

TEST(ConfigErrors, FamiliesMustAgree) {
    EXPECT_EQ(error_of(with_rules(
                  "    - action: deny\n      src: 2001:db8::/32\n      dst: 10.0.0.0/8\n")),
              "t.yaml:7:12: error: dst is IPv4 but src is IPv6 (rule 1)");
    EXPECT_EQ(
        error_of(with_rules("    - action: deny\n      family: ipv6\n      src: 10.0.0.0/8\n")),
        "t.yaml:7:12: error: src is IPv4 but family is IPv6 (rule 1)");
    EXPECT_EQ(
        error_of(with_rules("    - action: deny\n      family: ipv6\n      proto: icmp\n")),
        "t.yaml:7:14: error: proto icmp is IPv4 but family is IPv6; use icmpv6 for IPv6 (rule 1)");
    EXPECT_EQ(
        error_of(with_rules("    - action: deny\n      proto: icmpv6\n      dst: 192.0.2.0/24\n")),
        "t.yaml:6:14: error: proto icmpv6 is IPv6 but dst is IPv4; use icmp for IPv4 (rule 1)");
    // Two disagreements, two errors.
    auto d = errors_of(with_rules(
        "    - action: deny\n      family: ipv4\n      src: ::1\n      dst: 2001:db8::/32\n"));
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].str(), "t.yaml:7:12: error: src is IPv6 but family is IPv4 (rule 1)");
    EXPECT_EQ(d[1].str(), "t.yaml:8:12: error: dst is IPv6 but family is IPv4 (rule 1)");
    // Agreement is fine.
    Config c = load_string(with_rules(
        "    - {action: deny, family: ipv6, src: \"::/0\", dst: \"fe80::/10\", proto: icmpv6}\n"));
    EXPECT_EQ(c.rules.rules[0].match.family, 6);
}

// ---- all errors at once, warnings ---------------------------------------------------------

TEST(ConfigErrors, AllErrorsAreReportedInFileOrder) {
    const std::string yaml = R"(interfaces:
  - name: eth0
    mode: fast
  - name: eth0
parser:
  malformed: drop
firewall:
  default: deny
  rules:
    - id: a
      action: deny
      dport: 22
    - id: a
      action: allow
      proto: udp
      tcp_flags: syn
    - action: deny
      src: 10.0.0.0/8
      dst: ::1
      iface: eth9
daemon:
  bpffs: relative
  colour: blue
)";
    auto d = errors_of(yaml);
    std::vector<std::string> got;
    for (const auto& x : d) got.push_back(x.str());
    EXPECT_EQ(got,
              (std::vector<std::string>{
                  "t.yaml:3:11: error: mode must be native, skb, hw or auto, got 'fast'",
                  "t.yaml:4:11: error: interface 'eth0' is listed twice (first on line 2)",
                  "t.yaml:12:7: error: dport needs proto tcp or udp (rule 1)",
                  "t.yaml:13:11: error: rule id 'a' is already used by rule 1 on line 10 (rule 2)",
                  "t.yaml:16:7: error: tcp_flags needs proto tcp, not udp (rule 2)",
                  "t.yaml:19:12: error: dst is IPv6 but src is IPv4 (rule 3)",
                  "t.yaml:20:14: error: iface 'eth9' is not in 'interfaces' (eth0); did you mean "
                  "'eth0'? (rule 3)",
                  "t.yaml:22:10: error: bpffs must be an absolute path (under a bpf filesystem, "
                  "e.g. /sys/fs/bpf/xdpd), got 'relative'",
                  "t.yaml:23:3: error: unknown daemon key 'colour'; known keys: socket, bpffs, event_log, "
                  "on_exit, log_level",
              }));
    for (const auto& x : d) {
        EXPECT_FALSE(x.warning);
        EXPECT_EQ(x.file, "t.yaml");
    }
}

TEST(ConfigErrors, EmptyListEntries) {
    // yaml-cpp places an empty entry at the token after it; the rule number
    // says which one.
    EXPECT_EQ(error_of(with_rules("    - action: deny\n    -\n    - action: allow\n")),
              "t.yaml:7:5: error: empty list entry where a rule should be (rule 2)");
    EXPECT_EQ(error_of("interfaces:\n  -\n  - name: eth0\n"),
              "t.yaml:3:3: error: empty list entry where an interface should be");
}

TEST(ConfigWarnings, CatchAllRuleBeforeOthers) {
    Config c = load_string(with_rules("    - action: count\n"  // not a verdict: no warning
                                      "    - action: deny\n"   // catch-all
                                      "    - action: allow\n      proto: tcp\n"
                                      "    - action: allow\n"),
                           "w.yaml");
    ASSERT_EQ(c.rules.rules.size(), 4u);
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_TRUE(c.warnings[0].warning);
    EXPECT_EQ(c.warnings[0].str(),
              "w.yaml:6:7: warning: rule 2 matches every packet; the rules after it are never "
              "reached");
}

TEST(ConfigWarnings, NoneForALastCatchAll) {
    Config c =
        load_string(with_rules("    - action: allow\n      proto: tcp\n      dport: 22\n"
                               "    - action: deny\n"));
    EXPECT_TRUE(c.warnings.empty());
    Config one = load_string(with_rules("    - action: deny\n"));
    EXPECT_TRUE(one.warnings.empty());
    // A match on the interface alone is not a catch-all.
    Config iface =
        load_string(with_rules("    - action: deny\n      iface: eth0\n"
                               "    - action: allow\n"));
    EXPECT_TRUE(iface.warnings.empty());
}

// ---- limits of the data plane ---------------------------------------------------------------

TEST(ConfigErrors, TooManyInterfaces) {
    std::string yaml = "interfaces:\n";
    for (int i = 0; i <= XDPD_MAX_IFACES; ++i) yaml += "  - name: veth" + std::to_string(i) + "\n";
    EXPECT_EQ(error_of(yaml),
              "t.yaml:66:5: error: too many interfaces: 65, one data plane serves "
              "at most 64");
    // Exactly the limit is fine.
    yaml.erase(yaml.rfind("  - name:"));
    EXPECT_EQ(load_string(yaml).interfaces.size(), size_t(XDPD_MAX_IFACES));
}

TEST(ConfigErrors, TooManyRules) {
    std::string yaml = with_rules("");
    for (int i = 0; i <= XDPD_FW_MAX_RULES; ++i)
        yaml += "    - {action: deny, proto: tcp, dport: " + std::to_string(i % 65536) + "}\n";
    EXPECT_EQ(error_of(yaml),
              "t.yaml:16389:7: error: too many rules: 16385, a rule set holds at "
              "most 16384");
}

namespace xdpd::config {
namespace {

TEST(ConfigShield, AllowAndBansLandInTheModel) {
    auto cfg = load_string(R"(interfaces:
  - name: eth0
shield:
  allow: [10.0.0.0/8, "2001:db8::1"]
  bans:
    - prefix: 203.0.113.0/24
      duration: 1h30m
      reason: scanner
    - prefix: 198.51.100.7
)", "s.yaml");
    EXPECT_TRUE(cfg.shield.enabled);
    ASSERT_EQ(cfg.shield.allow.size(), 2u);
    EXPECT_EQ(cfg.shield.allow[1].str(), "2001:db8::1/128");
    ASSERT_EQ(cfg.shield.bans.size(), 2u);
    EXPECT_EQ(cfg.shield.bans[0].prefix.str(), "203.0.113.0/24");
    EXPECT_EQ(cfg.shield.bans[0].duration, std::chrono::seconds(5400));
    EXPECT_EQ(cfg.shield.bans[0].reason, "scanner");
    EXPECT_EQ(cfg.shield.bans[0].origin, "s.yaml:6");
    EXPECT_FALSE(cfg.shield.bans[1].duration.has_value());
}

TEST(ConfigShield, ErrorsArePositioned) {
    try {
        load_string("interfaces:\n  - name: eth0\nshield:\n  bans:\n    - prefix: 10.0.0.1/8\n      duration: soon\n    - reason: x\n", "s.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.diagnostics.size(), 2u) << e.what();
        EXPECT_EQ(e.diagnostics[0].line, 5);
        EXPECT_NE(e.diagnostics[0].message.find("host bits"), std::string::npos) << e.what();
        EXPECT_EQ(e.diagnostics[1].line, 7);
        EXPECT_NE(e.diagnostics[1].message.find("needs a prefix"), std::string::npos) << e.what();
    }
}

TEST(ConfigShield, DurationsParse) {
    EXPECT_EQ(parse_duration("90s"), std::chrono::seconds(90));
    EXPECT_EQ(parse_duration("10m"), std::chrono::seconds(600));
    EXPECT_EQ(parse_duration("1h30m"), std::chrono::seconds(5400));
    EXPECT_EQ(parse_duration("2d"), std::chrono::seconds(172800));
    EXPECT_EQ(parse_duration("3600"), std::chrono::seconds(3600));
    for (const char* bad : {"", "0", "0s", "h", "10x", "1h30", "-5s", "soon"})
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
}

}  // namespace
}  // namespace xdpd::config

namespace xdpd::config {
namespace {

TEST(ConfigLimits, ProfilesAndRulesBindByName) {
    auto cfg = load_string(R"(interfaces:
  - name: eth0
firewall:
  rules:
    - action: allow
      proto: udp
      dport: 53
      limit: dns
shield:
  limits:
    - name: other
      per_destination: {pps: 1k}
    - name: dns
      per_source: {pps: 1000, burst: 2000}
      per_prefix: {pps: 20k, bps: 100M, burst_bytes: 1M, ipv4: 16, ipv6: 48}
)", "l.yaml");
    ASSERT_EQ(cfg.shield.limits.size(), 2u);
    const auto& p = cfg.shield.limits[1];
    EXPECT_EQ(p.per_source.pps, 1000);
    EXPECT_EQ(p.per_source.burst, 2000);
    EXPECT_EQ(p.per_prefix.pps, 20000);
    EXPECT_EQ(p.per_prefix.bps, 1e8);
    EXPECT_EQ(p.per_prefix.burst_bytes, 1e6);
    EXPECT_EQ(p.prefix_v4, 16);
    EXPECT_EQ(p.prefix_v6, 48);
    EXPECT_EQ(cfg.shield.limits[0].per_destination.pps, 1000);
    ASSERT_EQ(cfg.rules.rules.size(), 1u);
    EXPECT_EQ(cfg.rules.rules[0].limit_index, 1u);
}

TEST(ConfigLimits, ErrorsNameTheProblem) {
    try {
        load_string(R"(interfaces:
  - name: eth0
firewall:
  rules:
    - action: allow
      limit: dsn
shield:
  limits:
    - name: dns
      per_source: {pps: fast}
)", "l.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.diagnostics.size(), 1u) << e.what();  // bad profile: names are not resolved yet
        EXPECT_EQ(e.diagnostics[0].line, 10);
        EXPECT_NE(e.diagnostics[0].message.find("pps must be a positive number"), std::string::npos) << e.what();
    }
    try {
        load_string(R"(interfaces:
  - name: eth0
firewall:
  rules:
    - action: allow
      limit: dsn
    - action: deny
      limit: dns
shield:
  limits:
    - name: dns
      per_source: {pps: 10}
)", "l.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.diagnostics.size(), 1u) << e.what();
        EXPECT_EQ(e.diagnostics[0].line, 8);
        EXPECT_NE(e.diagnostics[0].message.find("allow and steer rules only"), std::string::npos) << e.what();
    }
    try {
        load_string(R"(interfaces:
  - name: eth0
firewall:
  rules:
    - action: allow
      limit: dsn
shield:
  limits:
    - name: dns
      per_source: {pps: 10}
)", "l.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.diagnostics.size(), 1u) << e.what();
        EXPECT_EQ(e.diagnostics[0].line, 6);
        EXPECT_NE(e.diagnostics[0].message.find("did you mean 'dns'"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace xdpd::config
