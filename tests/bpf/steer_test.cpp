// Steering in the kernel: a `steer` rule's packets get struct xdpd_xsk_meta
// in front and go to the AF_XDP socket of their RX queue (or pass/drop
// without one), or to a CPU's CPUMAP thread, pinned or spread by flow hash;
// every other packet goes on through the stages as before.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "shield/limits.hpp"
#include "steer/cpus.hpp"
#include "steer/xsk_map.hpp"
#include "support/bpf_fixture.hpp"
#include "support/raw_xsk.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;

constexpr __u32 kSlot = 3;  // not 0: the metadata and the XSKMAP index must use the real slot

struct Steered {
    __u32 action = ~0u;
    __u32 meta_len = 0;       // bytes of metadata in front of the packet
    std::optional<xdpd_xsk_meta> meta;
    Bytes packet;             // the packet after the metadata
};

// Reference: the flow hash of a packet, from its fields as the parser reads them.
__u32 flow_hash(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, uint8_t proto) {
    xdpd_lb_flow_key k{};
    const bool v6 = src.find(':') != std::string::npos;
    inet_pton(v6 ? AF_INET6 : AF_INET, src.c_str(), k.src);
    inet_pton(v6 ? AF_INET6 : AF_INET, dst.c_str(), k.dst);
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    k.family = v6 ? 6 : 4;
    __u32 w[sizeof k / 4];  // words, not a cast: GCC's aliasing rules
    std::memcpy(w, &k, sizeof k);
    return xdpd_steer_flow_hash(w);
}

Bytes udp4(const std::string& src, uint16_t sport, uint16_t dport, const std::string& dst = "192.0.2.10") {
    return PacketBuilder().ipv4(src, dst).udp(sport, dport).payload(20).build();
}

class Steer : public PipelineFixture {
protected:
    void SetUp() override { load_steer(XDPD_ACT_PASS); }

    void load_steer(__u32 no_socket, bool steer = true) {
        load({.ifslot = kSlot, .firewall = true, .ratelimit = true, .steer = steer, .steer_no_socket = no_socket});
    }

    // BPF_PROG_TEST_RUN returns the frame from data_meta on; ctx_out.data is
    // where the packet starts in it.
    Steered run_meta(const Bytes& pkt, __u32 ifindex = 0, __u32 queue = 0) {
        Steered s;
        Bytes out(pkt.size() + 256);
        xdp_md in{}, ctx_out{};
        in.ingress_ifindex = ifindex;
        in.rx_queue_index = queue;
        in.data_end = __u32(pkt.size());
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt.data(), .data_out = out.data(),
                    .data_size_in = __u32(pkt.size()), .data_size_out = __u32(out.size()));
        if (ifindex) {
            o.ctx_in = &in;
            o.ctx_size_in = sizeof in;
            o.ctx_out = &ctx_out;
            o.ctx_size_out = sizeof ctx_out;
        }
        if (bpf_prog_test_run_opts(pipeline_->prog_fd(), &o) != 0) {
            ADD_FAILURE() << "BPF_PROG_TEST_RUN: " << strerror(errno);
            return s;
        }
        s.action = o.retval;
        out.resize(o.data_size_out);
        // Without a context the kernel reports no offsets: the packet's
        // length tells where the metadata ends.
        s.meta_len = ifindex ? ctx_out.data : __u32(out.size() - pkt.size());
        if (s.meta_len == sizeof(xdpd_xsk_meta)) {
            xdpd_xsk_meta m;
            std::memcpy(&m, out.data(), sizeof m);
            s.meta = m;
            EXPECT_TRUE(steer::read_meta(out.data() + s.meta_len).has_value());
        }
        s.packet.assign(out.begin() + s.meta_len, out.end());
        return s;
    }

    fw::Rule steer_rule(Match m, fw::Steer to = {}, std::string id = "") {
        auto r = rule(Action::steer, std::move(m), std::move(id));
        r.steer = to;
        return r;
    }

    __u32 slot_of(size_t rule_index) { return installer().counters().at(rule_index).slot; }

    __u64 cpu_target_packets(__u32 cpu) {
        auto m = pipeline_->map("xdpd_steer_cpu_stats");
        __u64 n = 0;
        for (const auto& c : bpf::PerCpuMap<__u32, xdpd_counter>(m).lookup_all(cpu)) n += c.packets;
        return n;
    }

    void cpus(const std::vector<__u32>& list) {
        steer::install_cpus(pipeline_->map("xdpd_cpus"), pipeline_->map("xdpd_steer"), list, 256);
    }
    void TearDown() override {
        if (pipeline_) cpus({});  // the CPUMAP's kernel threads go with the entries
    }
};

const Match kUdp5000{.proto = IPPROTO_UDP, .dport = fw::PortRange{5000, 5000}};

TEST_F(Steer, NoSocketPassesWithMetadataInFront) {
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000, {}, "app"));
    install(rs);
    const Bytes pkt = udp4("10.1.2.3", 40001, 5000);
    auto ob = observe(pkt);
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "steer_no_socket");

    auto s = run_meta(pkt);
    EXPECT_EQ(s.action, XDP_PASS);
    ASSERT_EQ(s.meta_len, XDPD_XSK_META_SIZE);
    ASSERT_TRUE(s.meta);
    const auto& m = *s.meta;
    EXPECT_EQ(m.magic, XDPD_XSK_META_MAGIC);
    EXPECT_EQ(m.version, XDPD_XSK_META_VERSION);
    EXPECT_EQ(m.size, XDPD_XSK_META_SIZE);
    EXPECT_EQ(m.flow_hash, flow_hash("10.1.2.3", "192.0.2.10", 40001, 5000, IPPROTO_UDP));
    EXPECT_NE(m.flow_hash, flow_hash("10.1.2.3", "192.0.2.10", 40002, 5000, IPPROTO_UDP));
    EXPECT_EQ(m.rule, slot_of(0) + 1);
    EXPECT_EQ(m.l3, XDPD_L3_IPV4);
    EXPECT_EQ(m.l4, XDPD_L4_UDP);
    EXPECT_EQ(m.proto, IPPROTO_UDP);
    EXPECT_EQ(m.l3_off, 14);
    EXPECT_EQ(m.l4_off, 34);
    EXPECT_EQ(m.ifslot, kSlot);
    EXPECT_EQ(m.rx_queue, 0);
    EXPECT_EQ(m.ifindex, 1u);  // no context: loopback
    EXPECT_EQ(s.packet, pkt) << "the packet itself is untouched";
    EXPECT_EQ(rule_slot_counter(slot_of(0)).packets, 2u);
}

TEST_F(Steer, NoSocketDropsWhenConfigured) {
    load_steer(XDPD_ACT_DROP);
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000));
    install(rs);
    auto ob = observe(udp4("10.1.2.3", 40001, 5000));
    EXPECT_EQ(ob.action, XDP_DROP);
    EXPECT_STREQ(reason_name(ob.reason), "steer_no_socket");
}

TEST_F(Steer, OtherTrafficGoesOnFirstMatchWins) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.src = cidr("10.9.0.0/16")}));  // above: wins
    rs.rules.push_back(steer_rule(kUdp5000));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP}));       // below: still denies TCP
    install(rs);
    auto ob = observe(udp4("10.9.1.1", 40001, 5000));
    EXPECT_EQ(ob.action, XDP_DROP);
    EXPECT_STREQ(reason_name(ob.reason), "fw_deny");
    ob = observe(udp4("10.1.1.1", 40001, 5000));
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "steer_no_socket");
    const Bytes tcp = PacketBuilder().ipv4("10.1.1.1", "192.0.2.10").tcp(40000, 5000, kSyn).build();
    ob = observe(tcp);
    EXPECT_EQ(ob.action, XDP_DROP);
    EXPECT_STREQ(reason_name(ob.reason), "fw_deny");
    const Bytes dns = udp4("10.1.1.1", 40001, 53);
    ob = observe(dns);
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "default_allow");
    auto s = run_meta(dns);
    EXPECT_EQ(s.meta_len, 0u) << "no metadata on packets not steered";
    EXPECT_EQ(s.packet, dns);
}

TEST_F(Steer, Ipv6WithVlanMetadata) {
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000));
    install(rs);
    const Bytes pkt = PacketBuilder().vlan(7).ipv6("2001:db8::1", "2001:db8::2").udp(1234, 5000).payload(8).build();
    auto s = run_meta(pkt);
    EXPECT_EQ(s.action, XDP_PASS);
    ASSERT_TRUE(s.meta);
    EXPECT_EQ(s.meta->l3, XDPD_L3_IPV6);
    EXPECT_EQ(s.meta->l3_off, 18);
    EXPECT_EQ(s.meta->l4_off, 58);
    EXPECT_EQ(s.meta->flow_hash, flow_hash("2001:db8::1", "2001:db8::2", 1234, 5000, IPPROTO_UDP));
}

TEST_F(Steer, QueuesAndInterfaceInMetadata) {
    // A device with 80 RX queues: queue 70 is past XDPD_XSK_MAX_QUEUES.
    const std::string name = "xdpdstq" + std::to_string(getpid());
    ASSERT_EQ(std::system(("ip link add " + name + " numrxqueues 80 type veth peer name xdpdstp" +
                           std::to_string(getpid())).c_str()), 0);
    struct Del {
        std::string n;
        ~Del() { std::system(("ip link del " + n).c_str()); }
    } del{name};
    const __u32 ifindex = if_nametoindex(name.c_str());
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000));
    install(rs);
    for (__u32 q : {5u, 70u}) {
        auto s = run_meta(udp4("10.1.2.3", 40001, 5000), ifindex, q);
        EXPECT_EQ(s.action, XDP_PASS);
        ASSERT_TRUE(s.meta);
        EXPECT_EQ(s.meta->rx_queue, q);
        EXPECT_EQ(s.meta->ifindex, ifindex);
    }
    EXPECT_EQ(reason_packets(XDPD_R_STEER_NO_SOCKET), 2u);
}

TEST_F(Steer, SocketOnTheQueueRedirects) {
    TestNetdev dev;
    ASSERT_EQ(std::system(("ip link set " + dev.name() + " up").c_str()), 0);
    RawXsk xsk(dev.ifindex(), 0);
    auto map = pipeline_->map("xdpd_xsks");
    const __u32 key = XDPD_XSK_INDEX(kSlot, 0), fd = __u32(xsk.fd());
    ASSERT_EQ(bpf_map_update_elem(map.fd(), &key, &fd, BPF_ANY), 0) << strerror(errno);
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000));
    install(rs);
    auto s = run_meta(udp4("10.1.2.3", 40001, 5000), dev.ifindex(), 0);
    EXPECT_EQ(s.action, XDP_REDIRECT);
    EXPECT_EQ(reason_packets(XDPD_R_STEER_XSK), 1u);
    // Another slot's socket is not this interface's: no socket here.
    const __u32 other = XDPD_XSK_INDEX(kSlot + 1, 0);
    ASSERT_EQ(bpf_map_delete_elem(map.fd(), &key), 0);
    ASSERT_EQ(bpf_map_update_elem(map.fd(), &other, &fd, BPF_ANY), 0);
    s = run_meta(udp4("10.1.2.3", 40001, 5000), dev.ifindex(), 0);
    EXPECT_EQ(s.action, XDP_PASS);
    EXPECT_EQ(reason_packets(XDPD_R_STEER_NO_SOCKET), 1u);
}

TEST_F(Steer, CpuPinnedAndSpread) {
    // Two CPUs to steer between: the project's machines (and CI) have 2. Not a skip: fewer fails.
    ASSERT_GE(bpf::possible_cpus(), 2) << "this test needs 2 possible CPUs";
    const std::vector<__u32> list = {0, 1};
    cpus(list);
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(Match{.proto = IPPROTO_UDP, .dport = fw::PortRange{6000, 6000}},
                                  {.to = fw::Steer::To::cpu, .cpu = 1}));
    rs.rules.push_back(steer_rule(Match{.proto = IPPROTO_UDP, .dport = fw::PortRange{7000, 7000}},
                                  {.to = fw::Steer::To::cpu}));
    install(rs);

    auto ob = observe(udp4("10.1.2.3", 40001, 6000));
    EXPECT_EQ(ob.action, XDP_REDIRECT);
    EXPECT_STREQ(reason_name(ob.reason), "steer_cpu");
    EXPECT_EQ(cpu_target_packets(1), 1u);
    EXPECT_EQ(cpu_target_packets(0), 0u);
    EXPECT_EQ(run_meta(udp4("10.1.2.3", 40001, 6000)).meta_len, 0u) << "metadata is for sockets";

    // Spread: cpus[flow hash % 2], per flow.
    __u64 want[2] = {cpu_target_packets(0), cpu_target_packets(1)};
    for (uint16_t sport = 1000; sport < 1032; ++sport) {
        const __u32 cpu = list[flow_hash("10.1.2.3", "192.0.2.10", sport, 7000, IPPROTO_UDP) % list.size()];
        ++want[cpu];
        ASSERT_EQ(verdict(udp4("10.1.2.3", sport, 7000)), XDP_REDIRECT);
        ASSERT_EQ(cpu_target_packets(0), want[0]) << "sport " << sport;
        ASSERT_EQ(cpu_target_packets(1), want[1]) << "sport " << sport;
    }
    EXPECT_GT(want[0], 0u);
    EXPECT_GT(want[1], 1u);

    // CPU 1 taken out of the CPUMAP: its pinned flows pass, spreading uses CPU 0 only.
    cpus({0});
    ob = observe(udp4("10.1.2.3", 40001, 6000));
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "steer_no_cpu");
    for (uint16_t sport = 1000; sport < 1008; ++sport) EXPECT_EQ(verdict(udp4("10.1.2.3", sport, 7000)), XDP_REDIRECT);
    EXPECT_EQ(cpu_target_packets(0), want[0] + 8);
    // No CPU at all: spreading passes.
    cpus({});
    ob = observe(udp4("10.1.2.3", 40001, 7000));
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "steer_no_cpu");
}

TEST_F(Steer, RateLimitOfTheRuleApplies) {
    shield::LimitProfile p{.name = "app", .per_source = {.pps = 10, .burst = 3}};
    shield::install_limits(pipeline_->map("xdpd_limits"), {p});
    bpf::RuntimeView(pipeline_->map("xdpd_runtime"))->fake_now_ns = 100'000'000'000ull;
    fw::RuleSet rs;
    auto r = steer_rule(kUdp5000);
    r.limit = "app";
    r.limit_index = 0;
    rs.rules.push_back(r);
    install(rs);
    int steered = 0;
    for (int i = 0; i < 10; ++i) steered += verdict(udp4("10.1.2.3", 40001, 5000)) == XDP_PASS;
    EXPECT_EQ(steered, 3);
    EXPECT_EQ(reason_packets(XDPD_R_STEER_NO_SOCKET), 3u);
    EXPECT_EQ(reason_packets(XDPD_R_RATE_SOURCE), 7u);
}

TEST_F(Steer, SteerCompiledOutActsAsAllow) {
    load_steer(XDPD_ACT_PASS, /*steer=*/false);
    fw::RuleSet rs;
    rs.rules.push_back(steer_rule(kUdp5000));
    install(rs);
    const Bytes pkt = udp4("10.1.2.3", 40001, 5000);
    auto ob = observe(pkt);
    EXPECT_EQ(ob.action, XDP_PASS);
    EXPECT_STREQ(reason_name(ob.reason), "fw_allow");
    EXPECT_EQ(run_meta(pkt).meta_len, 0u);
}

}  // namespace
}  // namespace xdpd::test
