// Capture in the data plane (bpf/observe.h), in the kernel: with xdpd_observe
// set, which packets reach the perf buffer xdpd_capture_events and with what
// header; every filter field on its own, snap lengths, 1-in-N sampling,
// capture off, malformed packets, and a TX packet captured as it leaves.
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <time.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;

struct Record {
    xdpd_capture_hdr hdr{};
    Bytes data;
};

uint64_t monotonic_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

// A prefix for the filter, written out (not through src/capture's parser: this
// tests the data plane's matching against the ABI's definition).
struct Net {
    __u8 family = 0;
    __u32 addr[4] = {};
    __u8 len = 0;
};
Net net(const char* addr, int len) {
    Net n;
    n.len = __u8(len);
    if (inet_pton(AF_INET, addr, n.addr) == 1)
        n.family = 4;
    else if (inet_pton(AF_INET6, addr, n.addr) == 1)
        n.family = 6;
    else
        throw std::invalid_argument(addr);
    return n;
}

xdpd_capture_filter src_filter(const Net& n, __u8 flag = XDPD_CAP_F_SRC) {
    xdpd_capture_filter f{};
    f.family = n.family;
    f.flags = flag;
    std::memcpy(f.src, n.addr, sizeof f.src);
    f.src_len = n.len;
    return f;
}

xdpd_capture_filter dst_filter(const Net& n) {
    xdpd_capture_filter f{};
    f.family = n.family;
    f.flags = XDPD_CAP_F_DST;
    std::memcpy(f.dst, n.addr, sizeof f.dst);
    f.dst_len = n.len;
    return f;
}

class Capture : public PipelineFixture {
protected:
    void SetUp() override {
        // One CPU for the whole test: the sampling counter is per CPU, and
        // every record then comes from the same perf ring, in order.
        ASSERT_EQ(sched_getaffinity(0, sizeof saved_, &saved_), 0);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
        load_pipeline({.firewall = true});
    }
    void TearDown() override {
        pb_.reset();
        sched_setaffinity(0, sizeof saved_, &saved_);
    }

    void load_pipeline(bpf::PipelineConfig cfg) {
        pb_.reset();
        load(cfg);
        events_ = pipeline_->map("xdpd_capture_events");
        perf_buffer* pb = perf_buffer__new(events_.fd(), 64, &Capture::on_sample, &Capture::on_lost, this, nullptr);
        ASSERT_NE(pb, nullptr) << "perf_buffer__new: errno " << errno;
        pb_.reset(pb);
    }

    // Writes the capture fields of xdpd_observe (the rest stays as it is).
    void capture(const xdpd_capture_filter& f, __u32 sample = 1, __u32 snaplen = XDPD_CAPTURE_MAX_SNAP,
                 __u32 on = 1) {
        auto m = pipeline_->map("xdpd_observe");
        bpf::Map<__u32, xdpd_observe> obs(m);
        xdpd_observe o = obs.lookup(0).value();
        o.filter = f;
        o.capture_sample = sample;
        o.capture_snaplen = snaplen;
        o.capture_owner = __u32(getpid());
        o.capture = on;
        obs.update(0, o);
    }

    std::vector<Record> take() {
        EXPECT_GE(perf_buffer__consume(pb_.get()), 0);
        return std::exchange(records_, {});
    }

    xdpd_observe_cpu observe_cpu() const {
        auto m = pipeline_->map("xdpd_observe_cpu");
        bpf::PerCpuMap<__u32, xdpd_observe_cpu> pc(m);
        xdpd_observe_cpu sum{};
        for (const auto& c : pc.lookup_all(0)) {
            sum.capture_seen += c.capture_seen;
            sum.capture_sent += c.capture_sent;
            sum.capture_lost += c.capture_lost;
        }
        return sum;
    }

    // Runs every packet once with filter f; returns the indexes of the packets
    // captured, each identified by its bytes (all packets differ), checking
    // every record is a whole packet.
    std::set<int> captured(const xdpd_capture_filter& f, const std::vector<Bytes>& pkts) {
        capture(f);
        for (const auto& p : pkts) run(p);
        std::set<int> out;
        for (const auto& r : take()) {
            int hit = -1;
            for (size_t i = 0; i < pkts.size(); ++i)
                if (r.data == pkts[i]) hit = int(i);
            EXPECT_GE(hit, 0) << "a record that is none of the packets (" << r.data.size() << " bytes)";
            EXPECT_EQ(r.hdr.len, r.data.size());
            EXPECT_EQ(r.hdr.caplen, r.data.size());
            EXPECT_TRUE(out.insert(hit).second) << "packet " << hit << " captured twice";
        }
        EXPECT_EQ(lost_, 0u);
        return out;
    }

    static void on_sample(void* ctx, int, void* data, __u32 size) {
        auto* self = static_cast<Capture*>(ctx);
        Record r;
        if (size < sizeof r.hdr) {
            ADD_FAILURE() << "record of " << size << " bytes, shorter than its header";
            return;
        }
        std::memcpy(&r.hdr, data, sizeof r.hdr);
        if (size - sizeof r.hdr < r.hdr.caplen) {
            ADD_FAILURE() << "record of " << size << " bytes for caplen " << r.hdr.caplen;
            return;
        }
        const auto* b = static_cast<const uint8_t*>(data) + sizeof r.hdr;
        r.data.assign(b, b + r.hdr.caplen);
        self->records_.push_back(std::move(r));
    }
    static void on_lost(void* ctx, int, __u64 n) { static_cast<Capture*>(ctx)->lost_ += n; }

    struct PbFree {
        void operator()(perf_buffer* pb) const { perf_buffer__free(pb); }
    };
    cpu_set_t saved_{};
    bpf::MapRef events_;
    std::unique_ptr<perf_buffer, PbFree> pb_;
    std::vector<Record> records_;
    uint64_t lost_ = 0;
};

// Packets that differ in every field a filter names.
enum Pkt { kTcp4, kUdp4, kIcmp4, kTcp6, kUdp6, kIcmp6, kArp, kCount };
std::vector<Bytes> packets() {
    std::vector<Bytes> p(kCount);
    p[kTcp4] = PacketBuilder().ipv4("10.1.2.3", "192.0.2.10").tcp(40000, 22, kSyn).build();
    p[kUdp4] = PacketBuilder().ipv4("10.1.3.255", "192.0.2.10").udp(5353, 53).payload(20).build();
    p[kIcmp4] = PacketBuilder().ipv4("10.1.4.0", "192.0.2.11").icmp(8).payload(8).build();
    p[kTcp6] = PacketBuilder().ipv6("2001:db8:0:7f::1", "2001:db8::10").tcp(40000, 22, kSyn).build();
    p[kUdp6] = PacketBuilder().ipv6("2001:db8:0:80::1", "2001:db8::10").udp(5353, 53).payload(20).build();
    p[kIcmp6] = PacketBuilder().ipv6("2001:db8:0:7f::2", "2001:db8::11").icmp(128).payload(8).build();
    p[kArp] = PacketBuilder().ethertype(0x0806).payload(28).build();
    return p;
}

const std::set<int> kAll = {kTcp4, kUdp4, kIcmp4, kTcp6, kUdp6, kIcmp6, kArp};

TEST_F(Capture, EveryPacketWithItsHeaderAndBytes) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}, "ssh"));
    install(rs);
    const auto pk = packets();
    capture({});
    const uint64_t t0 = monotonic_ns();
    run(pk[kTcp4]);
    run(pk[kUdp4]);
    run(pk[kArp]);
    const uint64_t t1 = monotonic_ns();
    const auto recs = take();
    ASSERT_EQ(recs.size(), 3u);
    const __u32 ssh_slot = installer().counters()[0].slot;
    struct Want {
        int pkt;
        __u16 action, reason;
        __u32 rule;
    } want[] = {{kTcp4, XDP_DROP, XDPD_R_FW_DENY, ssh_slot + 1},
                {kUdp4, XDP_PASS, XDPD_R_DEFAULT_ALLOW, 0},
                {kArp, XDP_PASS, XDPD_R_NON_IP, 0}};
    for (size_t i = 0; i < 3; ++i) {
        const auto& h = recs[i].hdr;
        SCOPED_TRACE(i);
        EXPECT_EQ(recs[i].data, pk[want[i].pkt]);
        EXPECT_EQ(h.action, want[i].action);
        EXPECT_EQ(h.reason, want[i].reason) << reason_name(h.reason);
        EXPECT_EQ(h.rule, want[i].rule);
        EXPECT_EQ(h.len, pk[want[i].pkt].size());
        EXPECT_EQ(h.caplen, pk[want[i].pkt].size());
        EXPECT_EQ(h.ifindex, 1u) << "BPF_PROG_TEST_RUN without a context: loopback";
        EXPECT_EQ(h.rx_queue, 0u);
        EXPECT_GE(h.time_ns, t0) << "CLOCK_MONOTONIC";
        EXPECT_LE(h.time_ns, t1);
    }
    const auto c = observe_cpu();
    EXPECT_EQ(c.capture_seen, 3u);
    EXPECT_EQ(c.capture_sent, 3u);
    EXPECT_EQ(c.capture_lost, 0u);
}

TEST_F(Capture, VerdictReasonAndRuleFilters) {
    fw::RuleSet rs;
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}, "ssh"));
    rs.rules.push_back(rule(Action::deny, Match{.proto = IPPROTO_UDP, .dport = fw::PortRange{53, 53}}, "dns"));
    rs.rules.push_back(rule(Action::allow, Match{.proto = IPPROTO_ICMP}, "ping"));
    install(rs);
    const auto c = installer().counters();
    const __u32 ssh = c[0].slot + 1, dns = c[1].slot + 1, ping = c[2].slot + 1;
    const auto pk = packets();
    auto verdicts = [](std::initializer_list<int> a) {
        xdpd_capture_filter f{};
        for (int v : a) f.verdicts |= 1u << v;
        return f;
    };
    auto reasons = [](std::initializer_list<int> a) {
        xdpd_capture_filter f{};
        for (int r : a) f.reasons |= 1ull << r;
        return f;
    };
    auto by_rule = [](__u32 r) {
        xdpd_capture_filter f{};
        f.rule = r;
        return f;
    };
    EXPECT_EQ(captured(verdicts({XDP_DROP}), pk), (std::set<int>{kTcp4, kUdp4, kTcp6, kUdp6}));
    EXPECT_EQ(captured(verdicts({XDP_PASS}), pk), (std::set<int>{kIcmp4, kIcmp6, kArp}));
    EXPECT_EQ(captured(verdicts({XDP_TX, XDP_REDIRECT, XDP_ABORTED}), pk), std::set<int>{});
    EXPECT_EQ(captured(verdicts({XDP_DROP, XDP_PASS}), pk), kAll);
    EXPECT_EQ(captured(reasons({XDPD_R_FW_ALLOW}), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(reasons({XDPD_R_NON_IP}), pk), std::set<int>{kArp});
    EXPECT_EQ(captured(reasons({XDPD_R_DEFAULT_ALLOW, XDPD_R_NON_IP}), pk), (std::set<int>{kIcmp6, kArp}));
    EXPECT_EQ(captured(reasons({XDPD_R_FW_DENY}), pk), (std::set<int>{kTcp4, kUdp4, kTcp6, kUdp6}));
    EXPECT_EQ(captured(by_rule(ssh), pk), (std::set<int>{kTcp4, kTcp6}));
    EXPECT_EQ(captured(by_rule(dns), pk), (std::set<int>{kUdp4, kUdp6}));
    EXPECT_EQ(captured(by_rule(ping), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(by_rule(ssh + 100), pk), std::set<int>{});
    // Fields combine: all must match.
    auto drop_v6 = verdicts({XDP_DROP});
    drop_v6.family = 6;
    EXPECT_EQ(captured(drop_v6, pk), (std::set<int>{kTcp6, kUdp6}));
}

TEST_F(Capture, FamilyProtocolAndPorts) {
    const auto pk = packets();
    auto f = [](auto set) {
        xdpd_capture_filter x{};
        set(x);
        return x;
    };
    EXPECT_EQ(captured({}, pk), kAll);
    EXPECT_EQ(captured(f([](auto& x) { x.family = 4; }), pk), (std::set<int>{kTcp4, kUdp4, kIcmp4}));
    EXPECT_EQ(captured(f([](auto& x) { x.family = 6; }), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.proto = IPPROTO_TCP; }), pk), (std::set<int>{kTcp4, kTcp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.proto = IPPROTO_UDP; }), pk), (std::set<int>{kUdp4, kUdp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.proto = IPPROTO_ICMP; }), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(f([](auto& x) { x.proto = IPPROTO_ICMPV6; }), pk), std::set<int>{kIcmp6});
    EXPECT_EQ(captured(f([](auto& x) { x.sport = 40000; }), pk), (std::set<int>{kTcp4, kTcp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.dport = 40000; }), pk), std::set<int>{});
    EXPECT_EQ(captured(f([](auto& x) { x.dport = 53; }), pk), (std::set<int>{kUdp4, kUdp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.port = 53; }), pk), (std::set<int>{kUdp4, kUdp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.port = 5353; }), pk), (std::set<int>{kUdp4, kUdp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.port = 22; }), pk), (std::set<int>{kTcp4, kTcp6}));
    EXPECT_EQ(captured(f([](auto& x) { x.port = 9999; }), pk), std::set<int>{});
    // ICMP keeps type and code in the port fields: sport 8 is an echo request.
    EXPECT_EQ(captured(f([](auto& x) { x.proto = IPPROTO_ICMP; x.sport = 8; }), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(f([](auto& x) { x.family = 6; x.proto = IPPROTO_UDP; x.dport = 53; }), pk),
              std::set<int>{kUdp6});
}

TEST_F(Capture, SourcePrefixesIpv4) {
    const auto pk = packets();
    EXPECT_EQ(captured(src_filter(net("10.1.2.3", 32)), pk), std::set<int>{kTcp4});
    EXPECT_EQ(captured(src_filter(net("10.1.2.2", 32)), pk), std::set<int>{});
    EXPECT_EQ(captured(src_filter(net("10.1.2.0", 24)), pk), std::set<int>{kTcp4});
    // /23: 10.1.2.0-10.1.3.255 (10.1.4.0 is the next /23).
    EXPECT_EQ(captured(src_filter(net("10.1.2.0", 23)), pk), (std::set<int>{kTcp4, kUdp4}));
    EXPECT_EQ(captured(src_filter(net("10.1.4.0", 23)), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(src_filter(net("10.1.0.0", 21)), pk), (std::set<int>{kTcp4, kUdp4, kIcmp4}));
    // /0 with the family: every IPv4 packet, no IPv6 one.
    EXPECT_EQ(captured(src_filter(net("0.0.0.0", 0)), pk), (std::set<int>{kTcp4, kUdp4, kIcmp4}));
    // /0 without a family: every IP packet (an address filter needs an IP header).
    auto any_ip = src_filter(net("0.0.0.0", 0));
    any_ip.family = 0;
    EXPECT_EQ(captured(any_ip, pk), (std::set<int>{kTcp4, kUdp4, kIcmp4, kTcp6, kUdp6, kIcmp6}));
}

TEST_F(Capture, SourcePrefixesIpv6) {
    const auto pk = packets();
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:7f::1", 128)), pk), std::set<int>{kTcp6});
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:7f::3", 128)), pk), std::set<int>{});
    // /57: the 4th group's top 9 bits, 0x0000-0x007f in 2001:db8:0::/57.
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:0::", 57)), pk), (std::set<int>{kTcp6, kIcmp6}));
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:80::", 57)), pk), std::set<int>{kUdp6});
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:7f::", 64)), pk), (std::set<int>{kTcp6, kIcmp6}));
    EXPECT_EQ(captured(src_filter(net("2001:db8::", 32)), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
    // A /127 across the last word: ::0 and ::1.
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:7f::", 127)), pk), std::set<int>{kTcp6});
    EXPECT_EQ(captured(src_filter(net("::", 0)), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
}

TEST_F(Capture, DestinationAndHostPrefixes) {
    const auto pk = packets();
    EXPECT_EQ(captured(dst_filter(net("192.0.2.10", 32)), pk), (std::set<int>{kTcp4, kUdp4}));
    EXPECT_EQ(captured(dst_filter(net("192.0.2.10", 31)), pk), (std::set<int>{kTcp4, kUdp4, kIcmp4}));
    EXPECT_EQ(captured(dst_filter(net("10.1.2.3", 32)), pk), std::set<int>{}) << "a source is no destination";
    EXPECT_EQ(captured(dst_filter(net("2001:db8::10", 128)), pk), (std::set<int>{kTcp6, kUdp6}));
    EXPECT_EQ(captured(dst_filter(net("2001:db8::", 64)), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
    EXPECT_EQ(captured(dst_filter(net("2001:db8::", 57)), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
    EXPECT_EQ(captured(dst_filter(net("::", 0)), pk), (std::set<int>{kTcp6, kUdp6, kIcmp6}));
    // host: either end.
    EXPECT_EQ(captured(src_filter(net("192.0.2.11", 32), XDPD_CAP_F_HOST), pk), std::set<int>{kIcmp4});
    EXPECT_EQ(captured(src_filter(net("10.1.2.3", 32), XDPD_CAP_F_HOST), pk), std::set<int>{kTcp4});
    EXPECT_EQ(captured(src_filter(net("10.1.2.0", 23), XDPD_CAP_F_HOST), pk), (std::set<int>{kTcp4, kUdp4}));
    EXPECT_EQ(captured(src_filter(net("192.0.2.0", 24), XDPD_CAP_F_HOST), pk), (std::set<int>{kTcp4, kUdp4, kIcmp4}));
    EXPECT_EQ(captured(src_filter(net("2001:db8::11", 128), XDPD_CAP_F_HOST), pk), std::set<int>{kIcmp6});
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:80::1", 128), XDPD_CAP_F_HOST), pk), std::set<int>{kUdp6});
    EXPECT_EQ(captured(src_filter(net("2001:db8:0:80::", 57), XDPD_CAP_F_HOST), pk), std::set<int>{kUdp6});
    // source and destination together.
    auto both = src_filter(net("10.1.2.0", 23));
    both.flags |= XDPD_CAP_F_DST;
    const Net d = net("192.0.2.10", 32);
    std::memcpy(both.dst, d.addr, sizeof both.dst);
    both.dst_len = d.len;
    EXPECT_EQ(captured(both, pk), (std::set<int>{kTcp4, kUdp4}));
    both.dst_len = 24;
    both.dst[0] = htonl(0xc0000300);  // 192.0.3.0/24
    EXPECT_EQ(captured(both, pk), std::set<int>{});
}

TEST_F(Capture, IngressInterface) {
    TestNetdev dev;
    const Bytes p = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
    xdpd_capture_filter f{};
    f.ifindex = dev.ifindex();
    capture(f);
    run(p, dev.ifindex());
    run(p);  // loopback
    const auto recs = take();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].hdr.ifindex, dev.ifindex());
    EXPECT_EQ(recs[0].data, p);
    f.ifindex = 1;
    capture(f);
    run(p, dev.ifindex());
    run(p);
    const auto lo = take();
    ASSERT_EQ(lo.size(), 1u);
    EXPECT_EQ(lo[0].hdr.ifindex, 1u);
}

TEST_F(Capture, SnapLengthTruncates) {
    const Bytes p = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).pad_to(300).build();
    ASSERT_EQ(p.size(), 300u);
    for (__u32 snap : {1u, 64u, 299u, 300u, 301u, 1500u, __u32(XDPD_CAPTURE_MAX_SNAP)}) {
        SCOPED_TRACE(snap);
        capture({}, 1, snap);
        run(p);
        const auto recs = take();
        ASSERT_EQ(recs.size(), 1u);
        const size_t want = std::min<size_t>(snap, p.size());
        EXPECT_EQ(recs[0].hdr.len, 300u);
        EXPECT_EQ(recs[0].hdr.caplen, want);
        EXPECT_EQ(recs[0].data, Bytes(p.begin(), p.begin() + long(want)));
    }
    // A snap length beyond the limit is the limit.
    capture({}, 1, XDPD_CAPTURE_MAX_SNAP + 1000);
    run(p);
    EXPECT_EQ(take().at(0).hdr.caplen, 300u);
}

TEST_F(Capture, MultiBufferPacketWhole) {
    // Larger than a page: BPF_PROG_TEST_RUN puts the rest in fragments
    // (xdp.frags), as a jumbo-MTU driver would; the capture copies them all.
    const Bytes p = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).pad_to(9000).build();
    capture({});
    run(p);
    auto recs = take();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].hdr.len, 9000u);
    EXPECT_EQ(recs[0].hdr.caplen, 9000u);
    EXPECT_EQ(recs[0].data, p);
    capture({}, 1, 5000);
    run(p);
    recs = take();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].hdr.len, 9000u);
    EXPECT_EQ(recs[0].data, Bytes(p.begin(), p.begin() + 5000));
}

// A perf record's size is 16 bits (perf_event_header.size): 8 bytes of
// header, the 4-byte raw size, xdpd_capture_hdr and the packet, rounded up to
// 8, must fit in 65535 bytes. Hence at most 65484 bytes of packet per record,
// the data plane's limit (XDPD_CAPTURE_MAX_SNAP). Beyond that the kernel
// writes records whose size wrapped: lost, or garbage to the reader.
constexpr __u32 kPerfMaxSnap = ((0xffffu - 8) & ~7u) - 4 - sizeof(xdpd_capture_hdr);
static_assert(kPerfMaxSnap == 65484 && XDPD_CAPTURE_MAX_SNAP == kPerfMaxSnap);

TEST_F(Capture, LargestRecordAPerfBufferHolds) {
    const Bytes big = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).pad_to(65535).build();
    const Bytes small = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(3, 4).build();
    capture({}, 1, 0xffff);  // more than a record holds: the data plane clamps it
    run(big);
    run(small);
    run(big);
    const auto recs = take();
    ASSERT_EQ(recs.size(), 3u);
    for (size_t i : {0u, 2u}) {
        EXPECT_EQ(recs[i].hdr.len, 65535u);
        EXPECT_EQ(recs[i].hdr.caplen, kPerfMaxSnap);
        EXPECT_EQ(recs[i].data, Bytes(big.begin(), big.begin() + kPerfMaxSnap));
    }
    EXPECT_EQ(recs[1].data, small) << "the records after a largest one are intact";
}

TEST_F(Capture, SamplingOneInNIsExactOnOneCpu) {
    xdpd_capture_filter f{};
    f.proto = IPPROTO_UDP;
    capture(f, 10);
    std::vector<Bytes> udp;
    for (int i = 0; i < 100; ++i) {
        udp.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(uint16_t(1000 + i), 53).build());
        run(udp.back());
        if (i % 2 == 0) run(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(uint16_t(1000 + i), 80).build());
    }
    const auto recs = take();
    ASSERT_EQ(recs.size(), 10u);
    for (size_t k = 0; k < recs.size(); ++k)  // the 10th, 20th, ... matching packet
        EXPECT_EQ(recs[k].data, udp[10 * k + 9]) << k;
    const auto c = observe_cpu();
    EXPECT_EQ(c.capture_seen, 100u) << "matching packets, sampled or not; the TCP ones do not match";
    EXPECT_EQ(c.capture_sent, 10u);
    EXPECT_EQ(c.capture_lost, 0u);
    // sample 0 and 1: every packet.
    for (__u32 s : {0u, 1u}) {
        capture(f, s);
        for (int i = 0; i < 7; ++i) run(udp[size_t(i)]);
        EXPECT_EQ(take().size(), 7u) << "sample " << s;
    }
}

TEST_F(Capture, OffEmitsNothingAndCountsNothing) {
    const auto pk = packets();
    capture({});
    run(pk[kTcp4]);
    ASSERT_EQ(take().size(), 1u);
    const auto before = observe_cpu();
    capture({}, 1, XDPD_CAPTURE_MAX_SNAP, 0);
    for (const auto& p : pk) run(p);
    EXPECT_TRUE(take().empty());
    const auto after = observe_cpu();
    EXPECT_EQ(after.capture_seen, before.capture_seen);
    EXPECT_EQ(after.capture_sent, before.capture_sent);
    EXPECT_EQ(after.capture_lost, before.capture_lost);
}

TEST_F(Capture, MalformedPackets) {
    // Malformed before its addresses (VLAN tag, IPv4 header cut short): no
    // header field is known. (A frame shorter than Ethernet never reaches XDP:
    // BPF_PROG_TEST_RUN refuses it, see truncation_test.cpp.) A cut TCP header: addresses and protocol are
    // known (the parser read them), ports are not.
    std::vector<Bytes> pk;
    Bytes vlan = PacketBuilder().vlan(10).ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80).build();
    vlan.resize(16);
    PacketBuilder tb;
    tb.ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80);
    Bytes ip4 = tb.build();
    ip4.resize(tb.l3_offset() + 12);
    Bytes tcp = tb.build();
    tcp.resize(tb.l4_offset() + 8);
    tcp.push_back(0x77);  // differs from ip4's bytes at every length
    const Bytes good = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80).payload(3).build();
    pk = {vlan, ip4, tcp, good};
    enum { kVlan, kIp4, kTcp, kGood };

    capture({});
    for (const auto& p : pk) run(p);
    const auto recs = take();
    ASSERT_EQ(recs.size(), 4u);
    const int reasons[] = {XDPD_R_TRUNC_VLAN, XDPD_R_TRUNC_IPV4, XDPD_R_TRUNC_TCP};
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(recs[size_t(i)].data, pk[size_t(i)]);
        EXPECT_EQ(recs[size_t(i)].hdr.action, XDP_DROP);
        EXPECT_EQ(recs[size_t(i)].hdr.reason, reasons[i]) << reason_name(recs[size_t(i)].hdr.reason);
        EXPECT_EQ(recs[size_t(i)].hdr.rule, 0u);
    }
    xdpd_capture_filter f{};
    f.verdicts = 1u << XDP_DROP;
    EXPECT_EQ(captured(f, pk), (std::set<int>{kVlan, kIp4, kTcp}));
    f = {};
    f.reasons = 1ull << XDPD_R_TRUNC_IPV4;
    EXPECT_EQ(captured(f, pk), std::set<int>{kIp4});
    f = {};
    f.family = 4;
    EXPECT_EQ(captured(f, pk), (std::set<int>{kTcp, kGood}));
    f = {};
    f.proto = IPPROTO_TCP;
    EXPECT_EQ(captured(f, pk), (std::set<int>{kTcp, kGood}));
    f = src_filter(net("10.0.0.1", 32), XDPD_CAP_F_HOST);
    EXPECT_EQ(captured(f, pk), (std::set<int>{kTcp, kGood}));
    f = {};
    f.dport = 80;
    EXPECT_EQ(captured(f, pk), std::set<int>{kGood}) << "a cut TCP header has no ports";
    f = {};
    f.verdicts = 1u << XDP_DROP;
    f.proto = IPPROTO_TCP;
    EXPECT_EQ(captured(f, pk), std::set<int>{kTcp});
}

TEST_F(Capture, TxPacketIsCapturedAsSent) {
    bpf::PipelineConfig cfg;
    cfg.syncookie_ports = {80};
    load_pipeline(cfg);
    const Bytes syn = PacketBuilder()
                          .ipv4("198.51.100.7", "192.0.2.10")
                          .tcp(40000, 80, kSyn, {2, 4, 0x05, 0xb4, 1, 1, 4, 2})
                          .build();
    xdpd_capture_filter f{};
    f.verdicts = 1u << XDP_TX;
    capture(f);
    const auto r = run(syn);
    ASSERT_EQ(r.action, XDP_TX);
    const auto recs = take();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].hdr.action, XDP_TX);
    EXPECT_EQ(recs[0].hdr.reason, XDPD_R_SYNCOOKIE_SENT);
    EXPECT_EQ(recs[0].hdr.len, r.packet.size());
    EXPECT_EQ(recs[0].data, r.packet) << "the SYN-ACK as it leaves, not the SYN";
    EXPECT_NE(recs[0].data, syn);
    // Filters see the packet as it came in: its source is the client's.
    auto by_src = src_filter(net("198.51.100.7", 32));
    capture(by_src);
    run(syn);
    EXPECT_EQ(take().size(), 1u);
    capture(src_filter(net("192.0.2.10", 32)));
    run(syn);
    EXPECT_TRUE(take().empty()) << "the SYN-ACK's source (the server) is not what the filter sees";
}

}  // namespace
}  // namespace xdpd::test
