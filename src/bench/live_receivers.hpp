// What the live benchmark puts on the receiving interface, one at a time, and
// the counter each one keeps of the packets it dropped:
//
//   BareDrop  bpf/baseline.bpf.c's xdp_drop, native XDP (a bpf_link held by
//             this process); counter: the veth's own rx_queue_N_xdp_drops
//   Xdpd      the real daemon (`xdpd run`) with the lab's config, optionally
//             plus a shield ban of the flood's source; counter: its stats,
//             reason fw_deny or banned
//   Nft       no XDP; the lab's rules as an nftables table; counter: the
//             matching rule's `counter`
//
// Receivers that hand packets to userspace (live_sockets.hpp) count the
// packets their application received instead: is_socket() is true.
//
// Each undoes itself on destruction.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "bench/live_topology.hpp"
#include "bench/nft_ruleset.hpp"
#include "lab/daemon_process.hpp"
#include "net/process.hpp"
#include "util/fd.hpp"

namespace xdpd::bench {

class Receiver {
public:
    virtual ~Receiver() = default;
    // Packets this mechanism counted as dropped so far.
    virtual uint64_t dropped() = 0;
    // Which counter dropped() reads.
    virtual std::string counter() const = 0;
    // Where the mechanism runs: "native XDP", "nft netdev ingress", ...
    virtual std::string where() const = 0;

    // Socket receivers: dropped() counts the packets the application received
    // (not drops), socket_drops() what the socket itself lost (its ring or
    // buffer was full), app_cpu_seconds() the CPU time its receiving thread or
    // process used so far.
    virtual bool is_socket() const { return false; }
    virtual uint64_t socket_drops() { return 0; }
    virtual double app_cpu_seconds() { return 0; }
};

// Sum of the receiver veth's rx_queue_*_xdp_drops (0 without XDP).
uint64_t veth_xdp_drops(const LiveTopology& t);

class BareDrop : public Receiver {
public:
    explicit BareDrop(const LiveTopology& t);
    ~BareDrop() override;
    uint64_t dropped() override { return veth_xdp_drops(t_); }
    std::string counter() const override { return "veth rx_queue_*_xdp_drops"; }
    std::string where() const override { return "native XDP"; }

private:
    const LiveTopology& t_;
    struct Skel;
    std::unique_ptr<Skel> skel_;
    UniqueFd link_;
};

// The xdpd config the live benchmark runs: lab_config() on the receiver's
// interface, in native mode; ban: a shield ban of 10.77.0.3/32 as well;
// steer: a first rule `{action: steer, proto: udp}` that hands the UDP flood
// to the AF_XDP socket of its queue (XSKMAP xdpd_xsks).
enum class XdpdSetup { fw, ban, steer };
std::string live_xdpd_config(const std::string& ifname, const std::string& socket, const std::string& bpffs,
                             XdpdSetup setup);

class Xdpd : public Receiver {
public:
    Xdpd(const LiveTopology& t, const std::string& xdpd_binary, XdpdSetup setup);
    ~Xdpd() override;
    uint64_t dropped() override;
    std::string counter() const override;
    std::string where() const override { return "xdpd, " + mode_ + " XDP"; }
    lab::DaemonProcess& daemon() { return *daemon_; }
    const lab::DaemonPaths& paths() const { return scratch_->paths(); }
    // The interface's slot (`xdpd status`: interfaces[0].slot).
    uint32_t slot();

private:
    bool ban_;
    std::string mode_ = "?";
    std::optional<lab::ScratchDataPlane> scratch_;
    std::optional<lab::DaemonProcess> daemon_;
};

// Xdpd (fw) while `xdpd capture -w /dev/null` takes every packet; the
// counter adds what the capture got (written, lost: perf buffer full).
class XdpdCapture : public Receiver {
public:
    XdpdCapture(const LiveTopology& t, const std::string& xdpd_binary);
    ~XdpdCapture() override;
    uint64_t dropped() override { return xdpd_.dropped(); }
    std::string counter() const override;
    std::string where() const override { return xdpd_.where() + " + capture of every packet"; }

private:
    Xdpd xdpd_;
    std::optional<net::Process> capture_;
};

class Nft : public Receiver {
public:
    Nft(const LiveTopology& t, NftHook hook);
    uint64_t dropped() override { return table_.rule_packets("block-attacker"); }
    std::string counter() const override { return "nft counter of rule block-attacker"; }
    std::string where() const override;

private:
    NftHook hook_;
    NftTable table_;
};

}  // namespace xdpd::bench
