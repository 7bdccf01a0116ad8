// Receivers of the live benchmark that hand the flood to a userspace
// application, which counts what it received and drops it ("rxdrop"):
//
//   XskRx      AF_XDP socket (src/xsk, copy mode: veth has no zero-copy) on
//              the receiver's queue 0, fed either by the real daemon with a
//              first rule `{action: steer, proto: udp}` (xsk-rxdrop: what
//              users run) or by a bare program redirecting every UDP packet
//              to an XSKMAP (xsk-bare: tests/data/xsk_redirect.bpf.c; the
//              difference is xdpd's pipeline); counter: RX descriptors
//   AfPacketV3 AF_PACKET socket, TPACKET_V3 mmap ring (blocks); counter:
//              frames in the blocks it released
//   Recvmmsg   UDP socket bound to the flood's destination 10.77.0.1:9,
//              recvmmsg() 64 at a time (MSG_WAITFORONE); counter: datagrams
//   Testpmd    Debian's dpdk-testpmd, --forward-mode=rxonly, with the
//              net_af_packet or net_af_xdp vdev on the receiver's interface
//              (run with `ip netns exec`); counter: its port's ipackets,
//              read over DPDK's telemetry socket
//
// The receiving thread (testpmd: its forwarding lcore) runs on app_cpu,
// normally the CPU of the receiver's NAPI thread: the whole receive side on
// one CPU, the generator alone on the other. The socket receivers touch no
// packet data (recvmmsg necessarily copies it into user memory).
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/live_receivers.hpp"
#include "net/process.hpp"

namespace xdpd::bench {

// A receiver whose packets are counted by a thread of this process: the
// thread enters the receiver's namespace, pins itself to cpu, runs open()
// (the constructor rethrows its exception) and then loop() until stop.
class ThreadReceiver : public Receiver {
public:
    ~ThreadReceiver() override;
    uint64_t dropped() override { return received_.load(std::memory_order_relaxed); }
    bool is_socket() const override { return true; }
    double app_cpu_seconds() override;

protected:
    void start(const net::Netns& ns, int cpu, std::string name, std::function<void()> open,
               std::function<void(const std::atomic<bool>& stop)> loop);
    // Subclasses call this first in their destructor (the loop uses their members).
    void stop();
    std::atomic<uint64_t> received_{0};

private:
    std::thread thread_;
    std::atomic<bool> stop_{false};
    clockid_t clock_{};
    std::atomic<double> final_cpu_{-1};
};

class XskRx : public ThreadReceiver {
public:
    // xdpd_binary empty: the bare redirect program instead of the daemon.
    XskRx(const LiveTopology& t, int app_cpu, const std::string& xdpd_binary);
    ~XskRx() override;
    uint64_t socket_drops() override;
    std::string counter() const override;
    std::string where() const override { return where_; }

private:
    struct State;
    std::unique_ptr<State> s_;
    std::string where_;
};

class AfPacketV3 : public ThreadReceiver {
public:
    AfPacketV3(const LiveTopology& t, int app_cpu);
    ~AfPacketV3() override;
    uint64_t socket_drops() override;  // PACKET_STATISTICS tp_drops, summed (reading resets them)
    std::string counter() const override { return "frames in released TPACKET_V3 blocks; drops: tp_drops"; }
    std::string where() const override;

private:
    UniqueFd fd_;
    void* ring_ = nullptr;
    size_t ring_size_ = 0;
    uint32_t block_size_ = 0, blocks_ = 0;
    std::mutex stats_mu_;
    uint64_t drops_ = 0;
};

class Recvmmsg : public ThreadReceiver {
public:
    Recvmmsg(const LiveTopology& t, int app_cpu);
    ~Recvmmsg() override;
    uint64_t socket_drops() override;  // SO_MEMINFO SK_MEMINFO_DROPS
    std::string counter() const override { return "datagrams returned by recvmmsg; drops: SK_MEMINFO_DROPS"; }
    std::string where() const override;

private:
    UniqueFd fd_;
};

// Debian's dpdk-testpmd (package dpdk-dev), found in PATH.
class Testpmd : public Receiver {
public:
    enum class Driver { af_packet, af_xdp };
    // main_cpu: testpmd's main lcore (it only sleeps; the generator's CPU),
    // app_cpu: its forwarding lcore. Throws with testpmd's own output when it
    // does not start or its port does not come up.
    Testpmd(const LiveTopology& t, Driver d, int main_cpu, int app_cpu);
    ~Testpmd() override;
    uint64_t dropped() override;        // port 0 ipackets
    uint64_t socket_drops() override;   // port 0 imissed
    bool is_socket() const override { return true; }
    double app_cpu_seconds() override;  // the whole testpmd process (/proc/PID/stat)
    std::string counter() const override { return "testpmd port 0 ipackets (telemetry); drops: imissed"; }
    std::string where() const override { return where_; }

private:
    nlohmann::json query(const std::string& cmd);
    nlohmann::json port_stats();
    Driver driver_;
    std::string where_, prefix_, socket_path_;
    std::optional<net::Process> proc_;
    UniqueFd tel_;
};

}  // namespace xdpd::bench
