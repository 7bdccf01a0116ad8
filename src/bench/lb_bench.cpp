#include "bench/lb_bench.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

#include "bench/live_topology.hpp"  // NetnsGuard
#include "bench/report.hpp"
#include "bpf/map.hpp"
#include "bpf/pipeline.hpp"
#include "bpf/test_run.hpp"
#include "config/config.hpp"
#include "lb/installer.hpp"
#include "net/lb_lab.hpp"  // set_sysctls
#include "net/link.hpp"
#include "net/netns.hpp"
#include "pkt/packet_builder.hpp"
#include "util/error.hpp"
#include "xdpd/abi.h"

namespace xdpd::bench {
namespace {

constexpr const char* kIf = "lbb0";
constexpr const char* kPeer = "lbb1";
constexpr const char* kClient4 = "10.77.0.2";
constexpr const char* kClient6 = "fd77::2";
constexpr const char* kVip4 = "10.99.0.1";
constexpr const char* kVip6 = "fd99::1";
constexpr const char* kDsrVip4 = "10.99.0.2";
constexpr uint16_t kSport = 40000;
constexpr size_t kFrameLen = 64;  // IPv6 frames are longer: their headers alone take 74 B (TCP)

std::string backend(int i, int v) { return v == 4 ? fmt::format("10.78.0.{}", 11 + i) : fmt::format("fd78::{}", 11 + i); }

Frame frame(int v, const std::string& src, const std::string& dst, bool udp, uint16_t sport, uint16_t dport,
            uint8_t flags = pkt::kAck) {
    pkt::PacketBuilder b;
    if (v == 4) b.ipv4(src, dst); else b.ipv6(src, dst);
    if (udp) b.udp(sport, dport); else b.tcp(sport, dport, flags);
    return b.pad_to(kFrameLen).build();
}

config::LbServiceConfig service(const std::string& name, const std::string& vip, uint8_t proto, uint16_t port,
                                bool dsr, uint16_t backend_port) {
    config::LbServiceConfig s;
    s.name = name;
    s.vip = *fw::Cidr::parse(vip);
    s.proto = proto;
    s.port = port;
    s.dsr = dsr;
    s.health.type = "none";
    const int v = s.vip.family;
    for (int i = 0; i < 3; ++i) {
        config::LbBackendConfig b;
        b.addr = *fw::Cidr::parse(backend(i, v));
        b.port = dsr ? 0 : backend_port;
        b.weight = 1;
        s.backends.push_back(b);
    }
    return s;
}

// One run of frame with ctx.ingress_ifindex (data_end must be the frame's
// length: the kernel takes it as the linear part). Returns (verdict, ns).
std::pair<__u32, __u32> run_once(int prog_fd, __u32 ifindex, const Frame& f, std::vector<uint8_t>& out) {
    xdp_md ctx{};
    ctx.ingress_ifindex = ifindex;
    ctx.data_end = __u32(f.size());
    out.resize(f.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.data(), .data_out = out.data(), .data_size_in = __u32(f.size()),
                .data_size_out = __u32(out.size()), .ctx_in = &ctx, .ctx_size_in = sizeof ctx);
    for (;;) {
        throw_if_interrupted();
        if (bpf_prog_test_run_opts(prog_fd, &o) == 0) return {o.retval, o.duration};
        if (errno != EINTR) throw SysError("BPF_PROG_TEST_RUN", errno);
    }
}

}  // namespace

const char* lb_case_name(LbCase c) {
    switch (c) {
    case LbCase::hit4: return "lb4-hit";
    case LbCase::miss4: return "lb4-miss";
    case LbCase::new4: return "lb4-new";
    case LbCase::hit6: return "lb6-hit";
    case LbCase::miss6: return "lb6-miss";
    case LbCase::udp_hit4: return "lb4-udp-hit";
    case LbCase::reply4: return "lb-reply4";
    case LbCase::dsr_hit4: return "lb4-dsr-hit";
    }
    return "?";
}

const std::vector<LbCase>& lb_cases() {
    static const std::vector<LbCase> all = {LbCase::hit4,     LbCase::miss4,  LbCase::new4,    LbCase::hit6,
                                            LbCase::miss6,    LbCase::udp_hit4, LbCase::reply4, LbCase::dsr_hit4};
    return all;
}

Measurement measure_calls(int prog_fd, __u32 ifindex, const std::function<const Frame&(size_t)>& frame_of,
                          __u32 calls, unsigned trials, __u32 warmup_calls) {
    Measurement m;
    std::vector<uint8_t> out;
    size_t i = 0;
    m.verdict = run_once(prog_fd, ifindex, frame_of(i++), out).first;
    for (__u32 w = 0; w < warmup_calls; ++w) run_once(prog_fd, ifindex, frame_of(i++), out);
    std::vector<double> ns, wall;
    for (unsigned t = 0; t < std::max(1u, trials); ++t) {
        uint64_t sum = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (__u32 c = 0; c < calls; ++c) sum += run_once(prog_fd, ifindex, frame_of(i++), out).second;
        const auto t1 = std::chrono::steady_clock::now();
        const double mean = double(sum) / std::max(calls, 1u);
        m.trial_ns.push_back(__u32(mean + 0.5));
        ns.push_back(mean);
        wall.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / std::max(calls, 1u));
        m.trial_wall_ns.push_back(wall.back());
    }
    m.median_ns = median(ns);
    m.min_ns = *std::min_element(ns.begin(), ns.end());
    m.max_ns = *std::max_element(ns.begin(), ns.end());
    m.median_wall_ns = median(wall);
    return m;
}

struct LbBench::Impl {
    std::string prefix = net::unique_prefix("xlb");
    net::Netns ns = net::Netns::create(prefix + "-lb");
    __u32 ifindex = 0;
    std::optional<bpf::Pipeline> pipeline;
    std::unique_ptr<lb::Installer> installer;
    config::LbConfig cfg;
    std::map<std::string, __u32> index;  // service -> VIP index

    xdpd_lb_vip_stats stats(const std::string& svc) const {
        auto ref = pipeline->map("xdpd_lb_vip_stats");
        bpf::PerCpuMap<__u32, xdpd_lb_vip_stats> m(ref);
        xdpd_lb_vip_stats s{};
        for (const auto& c : m.lookup_all(index.at(svc))) {
            s.fwd.packets += c.fwd.packets;
            s.reply.packets += c.reply.packets;
            s.table_hit += c.table_hit;
            s.table_miss += c.table_miss;
            s.new_flows += c.new_flows;
            s.not_inserted += c.not_inserted;
        }
        return s;
    }
    // The reason the pipeline recorded for one run of f.
    __u32 reason_of(const Frame& f) {
        auto ref = pipeline->map("xdpd_stats");
        bpf::PerCpuMap<__u32, xdpd_if_stats> m(ref);
        auto sum = [&] {
            std::vector<__u64> v(XDPD_R_MAX, 0);
            for (const auto& s : m.lookup_all(0))
                for (int r = 0; r < XDPD_R_MAX; ++r) v[size_t(r)] += xdpd_reason_total(s, r).packets;
            return v;
        };
        auto before = sum();
        std::vector<uint8_t> out;
        run_once(pipeline->prog_fd(), ifindex, f, out);
        auto after = sum();
        for (int r = 0; r < XDPD_R_MAX; ++r)
            if (after[size_t(r)] != before[size_t(r)]) return __u32(r);
        throw std::runtime_error("the pipeline recorded no reason for a test packet");
    }
};

LbBench::LbBench() : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    const net::Netns* ns = &m.ns;
    net::veth_pair(ns, kIf, ns, kPeer);
    net::set_sysctls(m.ns, {{"net/ipv4/conf/all/forwarding", "1"},
                            {"net/ipv6/conf/all/forwarding", "1"},
                            {"net/ipv6/conf/all/accept_dad", "0"},
                            {"net/ipv6/conf/default/accept_dad", "0"}});
    for (const char* a : {"10.77.0.1/24", "10.78.0.1/24", "fd77::1/64", "fd78::1/64"}) net::add_addr(ns, kIf, a);
    net::link_up(ns, kPeer);
    net::link_up(ns, kIf);
    net::wait_link_up(ns, kPeer);
    net::wait_link_up(ns, kIf);
    net::set_sysctls(m.ns, {{fmt::format("net/ipv4/conf/{}/forwarding", kIf), "1"},
                            {fmt::format("net/ipv6/conf/{}/forwarding", kIf), "1"}});
    auto neigh = [&](const std::string& addr, int n) {
        net::ip_cmd(ns, {"neigh", "replace", addr, "lladdr", fmt::format("02:00:00:00:00:{:02x}", n), "dev", kIf,
                         "nud", "permanent"});
    };
    neigh(kClient4, 2);
    neigh(kClient6, 2);
    for (int i = 0; i < 3; ++i)
        for (int v : {4, 6}) neigh(backend(i, v), 0x11 + i);
    m.ifindex = __u32(net::ifindex(ns, kIf));

    m.pipeline.emplace(bpf::Pipeline::load({.firewall = false, .lb = true, .lb_nat = true}));
    m.cfg.enabled = true;
    m.cfg.services = {service("web4", kVip4, IPPROTO_TCP, 80, false, 8080),
                      service("dns4", kVip4, IPPROTO_UDP, 53, false, 5353),
                      service("web6", kVip6, IPPROTO_TCP, 80, false, 8080),
                      service("dsr4", kDsrVip4, IPPROTO_TCP, 80, true, 0)};
    m.installer = std::make_unique<lb::Installer>([this](const std::string& n) { return impl_->pipeline->map(n); });
    {
        NetnsGuard in(m.ns);  // the devmap takes the interface by its index in this namespace
        m.installer->apply(m.cfg, {m.ifindex}, lb::LbState{});
    }
    for (const auto& j : m.installer->status(m.cfg, lb::LbState{})) m.index[j["name"]] = j["index"].get<__u32>();
}

LbBench::~LbBench() = default;

int LbBench::prog_fd() const { return impl_->pipeline->prog_fd(); }

std::string LbBench::program() const {
    return fmt::format("xdpd pipeline with the LB stage (id {})", impl_->pipeline->prog_id());
}

std::string LbBench::setup() const {
    return fmt::format("namespace {}: test runs with ingress_ifindex {} ({}), routes and permanent neighbours: "
                       "bpf_fib_lookup succeeds, the verdict is XDP_TX",
                       impl_->ns.name(), impl_->ifindex, kIf);
}

Measurement LbBench::baseline(int prog_fd, __u32 calls, unsigned trials) {
    NetnsGuard in(impl_->ns);
    const Frame f = frame(4, kClient4, kVip4, false, kSport, 80);
    return measure_calls(prog_fd, impl_->ifindex, [&f](size_t) -> const Frame& { return f; }, calls, trials,
                         calls / 10);
}

LbBench::Result LbBench::run(LbCase c, __u32 calls, unsigned trials) {
    Impl& m = *impl_;
    NetnsGuard in(m.ns);
    Result r;
    std::string svc = "web4";
    __u32 reason = XDPD_R_LB_FORWARD;
    enum { hit, miss, reply } path = hit;
    Frame one;
    switch (c) {
    case LbCase::hit4:
        one = frame(4, kClient4, kVip4, false, kSport, 80);
        r.packet = "TCP ACK 10.77.0.2:40000 > 10.99.0.1:80 (NAT to 10.78.0.1x:8080), 64 B";
        break;
    case LbCase::miss4:
        one = frame(4, kClient4, kVip4, false, kSport + 1, 80, pkt::kSyn);
        r.packet = "TCP SYN 10.77.0.2:40001 > 10.99.0.1:80, 64 B: ring + insert (over its own entry)";
        path = miss;
        break;
    case LbCase::new4:
        r.packet = "TCP ACK 10.100.x.y:P > 10.99.0.1:80, a new flow every call, 64 B: table miss, ring, insert";
        path = miss;
        break;
    case LbCase::hit6:
        one = frame(6, kClient6, kVip6, false, kSport, 80);
        svc = "web6";
        r.packet = fmt::format("TCP ACK [fd77::2]:40000 > [fd99::1]:80 (NAT), {} B", one.size());
        break;
    case LbCase::miss6:
        one = frame(6, kClient6, kVip6, false, kSport + 1, 80, pkt::kSyn);
        svc = "web6";
        r.packet = fmt::format("TCP SYN [fd77::2]:40001 > [fd99::1]:80, {} B: ring + insert", one.size());
        path = miss;
        break;
    case LbCase::udp_hit4:
        one = frame(4, kClient4, kVip4, true, kSport, 53);
        svc = "dns4";
        r.packet = "UDP 10.77.0.2:40000 > 10.99.0.1:53 (NAT to :5353), 64 B";
        break;
    case LbCase::reply4:
        one = frame(4, backend(0, 4), kClient4, false, 8080, kSport);
        reason = XDPD_R_LB_REPLY;
        path = reply;
        r.packet = "TCP ACK 10.78.0.11:8080 > 10.77.0.2:40000 (source becomes 10.99.0.1:80), 64 B";
        break;
    case LbCase::dsr_hit4:
        one = frame(4, kClient4, kDsrVip4, false, kSport, 80);
        svc = "dsr4";
        r.packet = "TCP ACK 10.77.0.2:40000 > 10.99.0.2:80 (DSR: MACs only), 64 B";
        break;
    }
    // Fresh flows for lb4-new: a source address and port per call.
    std::vector<Frame> fresh;
    size_t next_fresh = 0;
    const size_t need = size_t(calls) * (trials + 1) + calls / 10 + 2;
    if (c == LbCase::new4) {
        static size_t used = 0;  // across calls of run(): flows stay in the table
        fresh.reserve(need);
        for (size_t i = used; i < used + need; ++i)
            fresh.push_back(frame(4, fmt::format("10.{}.{}.{}", 100 + i / 60000 / 62500, i / 60000 / 250 % 250,
                                                 1 + i / 60000 % 250),
                                  kVip4, false, uint16_t(1024 + i % 60000), 80));
        used += need;
        one = fresh[next_fresh++];
    }

    r.frame_len = one.size();
    // The path: verdict and reason of one run, then the counters over the timing.
    const __u32 got = m.reason_of(one);
    if (got != reason)
        throw std::runtime_error(fmt::format("{}: the packet took reason {} instead of {}: not measuring it",
                                             lb_case_name(c), got, reason));
    const auto before = m.stats(svc);
    auto frame_of = [&](size_t) -> const Frame& { return c == LbCase::new4 ? fresh.at(next_fresh++) : one; };
    r.m = measure_calls(m.pipeline->prog_fd(), m.ifindex, frame_of, calls, trials, calls / 10);
    if (r.m.verdict != XDPD_ACT_TX)
        throw std::runtime_error(fmt::format("{}: verdict {}, expected XDP_TX", lb_case_name(c), verdict_name(r.m.verdict)));
    const auto after = m.stats(svc);
    const uint64_t runs = uint64_t(calls) * trials + calls / 10 + 1;
    const uint64_t hits = after.table_hit - before.table_hit, misses = after.table_miss - before.table_miss;
    const uint64_t inserted = after.new_flows - before.new_flows, replies = after.reply.packets - before.reply.packets;
    if (path == hit && hits != runs)
        throw std::runtime_error(fmt::format("{}: {} table hits in {} runs", lb_case_name(c), hits, runs));
    if (path == miss && (misses != runs || inserted != runs))
        throw std::runtime_error(fmt::format("{}: {} ring lookups and {} inserts in {} runs", lb_case_name(c), misses,
                                             inserted, runs));
    if (path == reply && replies != runs)
        throw std::runtime_error(fmt::format("{}: {} replies rewritten in {} runs", lb_case_name(c), replies, runs));
    if (c == LbCase::dsr_hit4) {
        // DSR leaves the packet's L3/L4 alone: repeat runs see the same packet,
        // so the kernel's loop can time it too, without the per-call overhead.
        std::vector<double> ns;
        for (unsigned t = 0; t < std::max(1u, trials); ++t) {
            throw_if_interrupted();
            ns.push_back(bpf::test_run(m.pipeline->prog_fd(), one, {.repeat = calls * 10, .ingress_ifindex = m.ifindex})
                             .duration_ns);
        }
        r.notes.push_back(fmt::format("cross-check: with repeat {} (valid here: DSR does not change the packet's "
                                      "L3/L4, so every run takes the same path) {:.0f} ns/run",
                                      calls * 10, median(ns)));
    }
    r.notes.push_back(fmt::format("{}; XDP_TX, reason {}; counters over the {} timed runs: {} table hits, {} ring "
                                  "lookups, {} inserts, {} replies",
                                  r.packet, reason == XDPD_R_LB_REPLY ? "lb_reply" : "lb_forward", runs, hits, misses,
                                  inserted, replies));
    return r;
}

}  // namespace xdpd::bench
