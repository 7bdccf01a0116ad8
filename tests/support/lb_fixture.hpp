// LbFixture: the xdpd program with its L4 load balancer stage, run with
// BPF_PROG_TEST_RUN from inside a network namespace built for it, so that the
// stage's bpf_fib_lookup finds real routes and neighbours. The LB maps are
// filled directly (LbMaps): the stage is tested without its control plane.
//
//   namespace PREFIX-lb (the test's thread enters it for the test):
//     lbin  (peer lbinp)   10.77.0.1/24 fd77::1/64   02:00:00:77:00:01
//     lbout (peer lboutp)  10.78.0.1/24 fd78::1/64   02:00:00:78:00:01
//   permanent neighbours (kClient, kBeIn on lbin; kBe1, kBe2 on lbout);
//   kNoNeigh is on lbout's subnet without a neighbour entry. Forwarding is on
//   (IPv4 all and per device, IPv6 all). Both devices are in xdpd_lb_devmap.
//
// The test thread is pinned to one CPU for the test: the route cache and the
// new-flow guard are per CPU, and BPF_PROG_TEST_RUN runs on the caller's CPU.
#pragma once
#include <sched.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/netns.hpp"
#include "support/bpf_fixture.hpp"
#include "util/fd.hpp"

namespace xdpd::test {

// A host of the topology: its addresses and its MAC.
struct LbHost {
    const char* v4;
    const char* v6;
    Mac mac;
    std::string addr(int family) const { return family == 4 ? v4 : v6; }
};

namespace lbnet {
inline constexpr const char* kIn = "lbin";
inline constexpr const char* kOut = "lbout";
inline const LbHost kInDev{"10.77.0.1", "fd77::1", {0x02, 0, 0, 0x77, 0, 0x01}};
inline const LbHost kOutDev{"10.78.0.1", "fd78::1", {0x02, 0, 0, 0x78, 0, 0x01}};
inline const LbHost kClient{"10.77.0.2", "fd77::2", {0x02, 0xc1, 0, 0, 0, 0x02}};
inline const LbHost kBeIn{"10.77.0.21", "fd77::21", {0x02, 0xbe, 0, 0, 0, 0x21}};  // behind lbin
inline const LbHost kBe1{"10.78.0.11", "fd78::11", {0x02, 0xbe, 0, 0, 0, 0x11}};
inline const LbHost kBe2{"10.78.0.12", "fd78::12", {0x02, 0xbe, 0, 0, 0, 0x12}};
inline const LbHost kNoNeigh{"10.78.0.99", "fd78::99", {}};  // on-link, never resolved
}  // namespace lbnet

// The namespace and its devices. Entering it (the constructor) moves the
// calling thread; the destructor moves it back, then deletes the namespace.
class LbTopology {
public:
    LbTopology();
    ~LbTopology();
    LbTopology(const LbTopology&) = delete;
    LbTopology& operator=(const LbTopology&) = delete;

    const net::Netns& ns() const { return *ns_; }
    __u32 in_ifindex() const { return in_; }
    __u32 out_ifindex() const { return out_; }
    void set_mtu(const std::string& dev, int mtu);

private:
    std::unique_ptr<net::Netns> ns_;
    UniqueFd home_;  // the thread's network namespace before
    __u32 in_ = 0, out_ = 0;
};

// IPv4 in w[0], network order; IPv6 in all four words.
struct LbAddr {
    __u32 w[4] = {};
    __u8 family = 0;
    static LbAddr parse(const std::string& text);
};

// The LB maps of a pipeline, typed.
class LbMaps {
public:
    explicit LbMaps(const bpf::Pipeline& p);

    // A service (proto TCP/UDP, port or 0 for all ports). flags: XDPD_LB_VIP_F_*.
    void add_vip(const std::string& addr, __u8 proto, __u16 port, __u32 index, __u32 flags = 0,
                 __u32 n_ring = 1);
    // The address entry of a VIP address (ICMP, fragments).
    void add_vip_address(const std::string& addr, __u32 index);
    void set_backend(__u32 slot, const std::string& addr, __u16 port, __u32 vip, __u32 gen = 1,
                     __u8 flags = XDPD_LB_BE_UP);
    std::optional<xdpd_lb_backend> backend(__u32 slot) const;
    void update_backend(__u32 slot, const xdpd_lb_backend& b);
    // The whole ring of VIP `vip` to one slot, or to a table of XDPD_LB_RING_SIZE.
    void fill_ring(__u32 vip, __u32 slot);
    void set_ring(__u32 vip, const std::vector<__u32>& table);
    // NAT: replies from backend addr:port become from vip_addr:vip_port.
    void add_nat(const std::string& be_addr, __u16 be_port, __u8 proto, const std::string& vip_addr,
                 __u16 vip_port, __u32 vip, __u32 slot);
    void add_egress(__u32 ifindex);
    void remove_egress(__u32 ifindex);
    void set_lb_runtime(__u64 udp_timeout_ns, __u32 new_flow_limit);
    // xdpd_lb_runtime.all_ports (add_vip() of a port-0 service sets it).
    void set_all_ports(bool on);
    void set_clock(__u64 ns);  // xdpd_runtime.fake_now_ns

    xdpd_lb_vip_stats vip_stats(__u32 vip) const;  // summed over CPUs
    xdpd_lb_backend_stats backend_stats(__u32 slot) const;
    std::optional<xdpd_lb_flow> flow(const xdpd_lb_flow_key& k) const;
    size_t flow_count() const;
    void clear_flows();

    static xdpd_lb_flow_key flow_key(__u8 proto, const std::string& src, __u16 sport, const std::string& dst,
                                     __u16 dport);
    // The ring entry a flow takes: xdpd_lb_flow_hash % XDPD_LB_RING_SIZE.
    static __u32 ring_entry(const xdpd_lb_flow_key& k);

private:
    bpf::MapRef vips_, rings_, backends_, nat_, flows_, runtime_, lb_runtime_, vip_stats_, be_stats_, devmap_;
};

// What one packet did: the verdict, the packet as the program left it, and
// the one reason counter it moved (-1: none, -2: more than one).
struct LbSent {
    __u32 action = ~0u;
    Bytes packet;
    int reason = -1;
};

class LbFixture : public PipelineFixture {
protected:
    void SetUp() override;
    void TearDown() override;

    // Loads the pipeline (LB on, NAT on, firewall off by default) and makes
    // lbin and lbout egress devices.
    void load_lb(bpf::PipelineConfig cfg = {.firewall = false, .lb = true, .lb_nat = true});

    // Runs pkt as if it arrived on ifindex (default lbin) and reports what it did.
    LbSent send(const Bytes& pkt, __u32 ifindex = 0);
    // BPF_PROG_TEST_RUN of another instance (probe, LB compiled out).
    bpf::TestRunResult run_on(const bpf::Pipeline& p, const Bytes& pkt, __u32 ifindex);

    __u32 in() const { return topo_->in_ifindex(); }
    __u32 out() const { return topo_->out_ifindex(); }

    std::unique_ptr<LbTopology> topo_;
    std::unique_ptr<LbMaps> lb_;

private:
    cpu_set_t saved_affinity_{};
    bool pinned_ = false;
};

}  // namespace xdpd::test
