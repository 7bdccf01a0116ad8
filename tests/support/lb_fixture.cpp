#include "support/lb_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "bpf/runtime.hpp"
#include "net/link.hpp"
#include "net/process.hpp"
#include "util/error.hpp"
#include "util/netns.hpp"

namespace xdpd::test {
namespace {

std::string mac_text(const Mac& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// Sums a per-CPU struct made of __u64 counters only.
template <typename V>
V sum_cpus(const std::vector<V>& per_cpu) {
    static_assert(sizeof(V) % sizeof(__u64) == 0);
    V sum{};
    auto* d = reinterpret_cast<__u64*>(&sum);
    for (const V& v : per_cpu) {
        const auto* s = reinterpret_cast<const __u64*>(&v);
        for (size_t i = 0; i < sizeof(V) / sizeof(__u64); ++i) d[i] += s[i];
    }
    return sum;
}

}  // namespace

// ---- LbTopology ---------------------------------------------------------------

LbTopology::LbTopology() {
    using namespace lbnet;
    ns_ = std::make_unique<net::Netns>(net::Netns::create(net::unique_prefix("xt") + "-lb"));
    const net::Netns* ns = ns_.get();
    struct Dev {
        const char* name;
        const char* peer;
        const LbHost* self;
    };
    for (const Dev& d : {Dev{kIn, "lbinp", &kInDev}, Dev{kOut, "lboutp", &kOutDev}}) {
        net::ip_cmd(ns, {"link", "add", d.name, "address", mac_text(d.self->mac), "type", "veth", "peer", "name",
                         d.peer});
        net::add_addr(ns, d.name, std::string(d.self->v4) + "/24");
        net::add_addr(ns, d.name, std::string(d.self->v6) + "/64");
        net::link_up(ns, d.peer);
        net::link_up(ns, d.name);
    }
    for (const char* dev : {kIn, kOut}) net::wait_link_up(ns, dev);
    for (const char* s : {"net.ipv4.conf.all.forwarding=1", "net.ipv4.conf.lbin.forwarding=1",
                          "net.ipv4.conf.lbout.forwarding=1", "net.ipv6.conf.all.forwarding=1"})
        net::exec_checked(ns, {"sysctl", "-qw", s});
    struct Neigh {
        const LbHost* host;
        const char* dev;
    };
    for (const Neigh& n : {Neigh{&kClient, kIn}, Neigh{&kBeIn, kIn}, Neigh{&kBe1, kOut}, Neigh{&kBe2, kOut}})
        for (int fam : {4, 6})
            net::ip_cmd(ns, {"neigh", "replace", n.host->addr(fam), "lladdr", mac_text(n.host->mac), "dev", n.dev,
                             "nud", "permanent"});

    home_ = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_) throw SysError("open /proc/thread-self/ns/net", errno);
    util::enter_netns(ns_->name());
    in_ = if_nametoindex(kIn);
    out_ = if_nametoindex(kOut);
    if (!in_ || !out_) throw SysError("find lbin/lbout in " + ns_->name(), errno);
}

LbTopology::~LbTopology() {
    if (home_ && setns(home_.get(), CLONE_NEWNET) != 0)
        ADD_FAILURE() << "cannot return to the original network namespace: " << std::strerror(errno);
}

void LbTopology::set_mtu(const std::string& dev, int mtu) { net::set_mtu(ns_.get(), dev, mtu); }

// ---- LbAddr, LbMaps -------------------------------------------------------------

LbAddr LbAddr::parse(const std::string& text) {
    LbAddr a;
    if (inet_pton(AF_INET, text.c_str(), &a.w[0]) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, text.c_str(), a.w) == 1)
        a.family = 6;
    else
        throw std::invalid_argument("bad address " + text);
    return a;
}

LbMaps::LbMaps(const bpf::Pipeline& p)
    : vips_(p.map("xdpd_lb_vips")),
      rings_(p.map("xdpd_lb_rings")),
      backends_(p.map("xdpd_lb_backends")),
      nat_(p.map("xdpd_lb_nat")),
      flows_(p.map("xdpd_lb_flows")),
      runtime_(p.map("xdpd_runtime")),
      lb_runtime_(p.map("xdpd_lb_runtime")),
      vip_stats_(p.map("xdpd_lb_vip_stats")),
      be_stats_(p.map("xdpd_lb_backend_stats")),
      devmap_(p.map("xdpd_lb_devmap")) {}

void LbMaps::add_vip(const std::string& addr, __u8 proto, __u16 port, __u32 index, __u32 flags, __u32 n_ring) {
    LbAddr a = LbAddr::parse(addr);
    xdpd_lb_vip_key k{};
    std::memcpy(k.addr, a.w, sizeof k.addr);
    k.port = port;
    k.proto = proto;
    k.family = a.family;
    bpf::Map<xdpd_lb_vip_key, xdpd_lb_vip>(vips_).update(k, {.index = index, .flags = flags, .n_ring = n_ring});
    if (port == 0 && proto != 0) {  // a service of all ports: the data plane looks for it (as the installer does)
        bpf::Map<__u32, xdpd_lb_runtime> rt(lb_runtime_);
        auto r = rt.lookup(0).value_or(xdpd_lb_runtime{});
        r.all_ports = 1;
        rt.update(0, r);
    }
}

void LbMaps::add_vip_address(const std::string& addr, __u32 index) {
    add_vip(addr, 0, 0, index, XDPD_LB_VIP_F_ADDR, 0);
}

void LbMaps::set_backend(__u32 slot, const std::string& addr, __u16 port, __u32 vip, __u32 gen, __u8 flags) {
    LbAddr a = LbAddr::parse(addr);
    xdpd_lb_backend b{};
    std::memcpy(b.addr, a.w, sizeof b.addr);
    b.port = port;
    b.family = a.family;
    b.flags = flags;
    b.gen = gen;
    b.vip = vip;
    update_backend(slot, b);
}

std::optional<xdpd_lb_backend> LbMaps::backend(__u32 slot) const {
    return bpf::Map<__u32, xdpd_lb_backend>(backends_).lookup(slot);
}

void LbMaps::update_backend(__u32 slot, const xdpd_lb_backend& b) {
    bpf::Map<__u32, xdpd_lb_backend>(backends_).update(slot, b);
}

void LbMaps::fill_ring(__u32 vip, __u32 slot) { set_ring(vip, std::vector<__u32>(XDPD_LB_RING_SIZE, slot)); }

void LbMaps::set_ring(__u32 vip, const std::vector<__u32>& table) {
    if (table.size() != XDPD_LB_RING_SIZE || vip >= XDPD_LB_MAX_VIPS)
        throw std::invalid_argument("ring of a wrong size or VIP index");
    // Mmapped: array elements sit 8 bytes apart (value size rounded up to 8).
    bpf::MappedArray m(rings_);
    auto* base = static_cast<char*>(m.data());
    for (size_t i = 0; i < table.size(); ++i) {
        size_t idx = size_t(vip) * XDPD_LB_RING_SIZE + i;
        __atomic_store_n(reinterpret_cast<__u32*>(base + idx * 8), table[i], __ATOMIC_RELAXED);
    }
}

void LbMaps::add_nat(const std::string& be_addr, __u16 be_port, __u8 proto, const std::string& vip_addr,
                     __u16 vip_port, __u32 vip, __u32 slot) {
    LbAddr b = LbAddr::parse(be_addr), v = LbAddr::parse(vip_addr);
    xdpd_lb_nat_key k{};
    std::memcpy(k.addr, b.w, sizeof k.addr);
    k.port = be_port;
    k.proto = proto;
    k.family = b.family;
    xdpd_lb_nat n{};
    std::memcpy(n.vip_addr, v.w, sizeof n.vip_addr);
    n.vip_port = vip_port;
    n.vip = vip;
    n.backend = slot;
    bpf::Map<xdpd_lb_nat_key, xdpd_lb_nat>(nat_).update(k, n);
}

void LbMaps::add_egress(__u32 ifindex) { bpf::Map<__u32, __u32>(devmap_).update(ifindex, ifindex); }
void LbMaps::remove_egress(__u32 ifindex) { bpf::Map<__u32, __u32>(devmap_).erase(ifindex); }

void LbMaps::set_all_ports(bool on) {
    bpf::Map<__u32, xdpd_lb_runtime> rt(lb_runtime_);
    auto r = rt.lookup(0).value_or(xdpd_lb_runtime{});
    r.all_ports = on;
    rt.update(0, r);
}

void LbMaps::set_lb_runtime(__u64 udp_timeout_ns, __u32 new_flow_limit) {
    bpf::Map<__u32, xdpd_lb_runtime>(lb_runtime_)
        .update(0, {.udp_timeout_ns = udp_timeout_ns, .new_flow_limit = new_flow_limit,
                    .all_ports = bpf::Map<__u32, xdpd_lb_runtime>(lb_runtime_).lookup(0).value_or(xdpd_lb_runtime{}).all_ports});
}

void LbMaps::set_clock(__u64 ns) { bpf::RuntimeView(runtime_)->fake_now_ns = ns; }

xdpd_lb_vip_stats LbMaps::vip_stats(__u32 vip) const {
    return sum_cpus(bpf::PerCpuMap<__u32, xdpd_lb_vip_stats>(vip_stats_).lookup_all(vip));
}

xdpd_lb_backend_stats LbMaps::backend_stats(__u32 slot) const {
    return sum_cpus(bpf::PerCpuMap<__u32, xdpd_lb_backend_stats>(be_stats_).lookup_all(slot));
}

std::optional<xdpd_lb_flow> LbMaps::flow(const xdpd_lb_flow_key& k) const {
    return bpf::Map<xdpd_lb_flow_key, xdpd_lb_flow>(flows_).lookup(k);
}

size_t LbMaps::flow_count() const { return bpf::Map<xdpd_lb_flow_key, xdpd_lb_flow>(flows_).keys().size(); }

void LbMaps::clear_flows() {
    bpf::Map<xdpd_lb_flow_key, xdpd_lb_flow> m(flows_);
    for (const auto& k : m.keys()) m.erase(k);
}

xdpd_lb_flow_key LbMaps::flow_key(__u8 proto, const std::string& src, __u16 sport, const std::string& dst,
                                  __u16 dport) {
    LbAddr s = LbAddr::parse(src), d = LbAddr::parse(dst);
    xdpd_lb_flow_key k{};
    std::memcpy(k.src, s.w, sizeof k.src);
    std::memcpy(k.dst, d.w, sizeof k.dst);
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    k.family = s.family;
    return k;
}

__u32 LbMaps::ring_entry(const xdpd_lb_flow_key& k) {
    static_assert(sizeof(xdpd_lb_flow_key) == 40, "the flow hash reads 10 words");
    __u32 w[10];
    std::memcpy(w, &k, sizeof w);
    return __u32(xdpd_lb_flow_hash(w) % XDPD_LB_RING_SIZE);
}

// ---- LbFixture -----------------------------------------------------------------

void LbFixture::SetUp() {
    // Pinned first: the namespace's setns and every test run happen on this CPU.
    if (sched_getaffinity(0, sizeof saved_affinity_, &saved_affinity_) == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        pinned_ = sched_setaffinity(0, sizeof one, &one) == 0;
    }
    topo_ = std::make_unique<LbTopology>();
    load_lb();
}

void LbFixture::TearDown() {
    lb_.reset();
    installer_.reset();
    pipeline_.reset();
    topo_.reset();
    if (pinned_) sched_setaffinity(0, sizeof saved_affinity_, &saved_affinity_);
}

void LbFixture::load_lb(bpf::PipelineConfig cfg) {
    load(cfg);
    lb_ = std::make_unique<LbMaps>(*pipeline_);
    lb_->add_egress(in());
    lb_->add_egress(out());
}

LbSent LbFixture::send(const Bytes& pkt, __u32 ifindex) {
    const xdpd_if_stats before = stats();
    auto r = run(pkt, ifindex ? ifindex : in());
    const xdpd_if_stats after = stats();
    LbSent s{.action = r.action, .packet = std::move(r.packet)};
    for (int i = 0; i < XDPD_R_MAX; ++i) {
        if (xdpd_reason_total(after, i).packets == xdpd_reason_total(before, i).packets) continue;
        s.reason = s.reason == -1 && xdpd_reason_total(after, i).packets - xdpd_reason_total(before, i).packets == 1 ? i : -2;
    }
    for (int a = 0; a < XDPD_ACT_MAX; ++a) {
        __u64 d = after.action[a].packets - before.action[a].packets;
        EXPECT_EQ(d, __u64(a == int(r.action) && s.reason >= 0)) << "action counter " << a;
    }
    return s;
}

bpf::TestRunResult LbFixture::run_on(const bpf::Pipeline& p, const Bytes& pkt, __u32 ifindex) {
    Bytes out(pkt.size() + 256);
    xdp_md ctx{};
    ctx.ingress_ifindex = ifindex;
    ctx.data_end = __u32(pkt.size());
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = __u32(pkt.size()), .data_size_out = __u32(out.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof ctx);
    if (bpf_prog_test_run_opts(p.prog_fd(), &o) != 0) throw SysError("BPF_PROG_TEST_RUN", errno);
    out.resize(o.data_size_out);
    return {.action = o.retval, .packet = std::move(out)};
}

}  // namespace xdpd::test
