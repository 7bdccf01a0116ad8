// XskLab: what the AF_XDP library tests run on. Two fresh namespaces, "peer"
// (ordinary kernel UDP sockets) and "dut" (the AF_XDP side), joined by a veth
// pair with fixed MACs, addresses and permanent neighbour entries (no ARP in
// the way). The dut end runs tests/data/xsk_redirect.bpf.c natively: UDP to
// `port` (0: any) goes to the socket in xsks[rx queue] (unless attach is off). Everything is removed
// by the destructor, also when a test fails halfway.
#pragma once
#include <linux/if_link.h>
#include <pthread.h>
#include <sched.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/netns.hpp"
#include "util/fd.hpp"
#include "util/netns.hpp"

struct xsk_redirect_bpf;

namespace xdpd::test {

using Bytes = std::vector<uint8_t>;

// Runs fn() in a new thread that entered ns (network namespaces are per
// thread), joins it and returns fn's result or rethrows its exception.
// Sockets created there stay in ns, whatever thread uses them later.
template <class F>
auto in_netns(const std::string& ns, F&& fn) {
    using R = std::invoke_result_t<F&>;
    std::exception_ptr err;
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
    std::thread t([&] {
        try {
            util::enter_netns(ns);
            if constexpr (std::is_void_v<R>) fn();
            else result.emplace(fn());
        } catch (...) {
            err = std::current_exception();
        }
    });
    t.join();
    if (err) std::rethrow_exception(err);
    if constexpr (!std::is_void_v<R>) return std::move(*result);
}

struct XskLabOptions {
    int queues = 1;     // RX and TX queues on both veth ends
    int mtu = 1500;
    uint16_t port = 0;  // UDP destination port redirected (0: all)
    bool attach = true;  // false: no program on the dut end (e.g. the daemon goes there); no insert()/remove()
};

class XskLab {
public:
    static constexpr const char* kPeerIp4 = "10.201.0.1";
    static constexpr const char* kDutIp4 = "10.201.0.2";
    static constexpr const char* kPeerIp6 = "fd01::1";
    static constexpr const char* kDutIp6 = "fd01::2";
    static constexpr uint8_t kPeerMac[6] = {0x02, 0, 0, 0, 0x01, 0x01};
    static constexpr uint8_t kDutMac[6] = {0x02, 0, 0, 0, 0x01, 0x02};

    explicit XskLab(XskLabOptions o = {});
    ~XskLab();
    XskLab(const XskLab&) = delete;
    XskLab& operator=(const XskLab&) = delete;

    const net::Netns& peer() const { return peer_; }
    const net::Netns& dut() const { return dut_; }
    const std::string& peer_if() const { return peer_if_; }
    const std::string& dut_if() const { return dut_if_; }

    template <class F>
    auto in_dut(F&& fn) const { return in_netns(dut_.name(), std::forward<F>(fn)); }
    template <class F>
    auto in_peer(F&& fn) const { return in_netns(peer_.name(), std::forward<F>(fn)); }

    // Puts an AF_XDP socket into xsks[queue] / takes it out.
    void insert(uint32_t queue, int xsk_fd);
    void remove(uint32_t queue);

    // XPS on the peer end: a packet sent from CPU i leaves on TX queue i, and
    // a veth delivers it on the same RX queue of the dut end.
    void steer_tx_queue_by_cpu();

private:
    std::string prefix_;
    net::Netns peer_, dut_;
    std::string peer_if_, dut_if_;
    int dut_ifindex_ = 0;
    struct Destroy { void operator()(xsk_redirect_bpf* s) const; };
    std::unique_ptr<xsk_redirect_bpf, Destroy> skel_;
};

// Sends every payload as one UDP datagram from the peer namespace to
// addr:port, from a thread pinned to cpu (-1: not pinned), a little paced so
// that the veth's 256-entry queue never overflows. Throws on a send error.
void send_udp(const XskLab& lab, const std::string& addr, uint16_t port, const std::vector<Bytes>& payloads,
              int cpu = -1);

// A UDP socket bound to addr:port in the peer namespace.
UniqueFd peer_udp_socket(const XskLab& lab, const std::string& addr, uint16_t port);

// Distinct, recognisable payloads: "tag seq " then bytes derived from seq, of
// sizes cycling through small and large.
std::vector<Bytes> make_payloads(const std::string& tag, int n, size_t min_len = 18, size_t max_len = 1200);

// The UDP payload of an Ethernet/IPv4-or-IPv6/UDP frame (empty if it is not
// one) and its destination port.
struct UdpView {
    Bytes payload;
    uint16_t dport = 0;
    int family = 0;  // 4 or 6; 0: not UDP
};
UdpView parse_udp(const Bytes& frame);

}  // namespace xdpd::test
