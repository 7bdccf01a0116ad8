// Socket: one AF_XDP socket bound to (interface, queue), with its rings
// mapped. Everything is released by the destructor (RAII, move-only).
//
// Binding happens in the constructor:
//  - need_wakeup is always on (XDP_USE_NEED_WAKEUP): check needs_wakeup() on
//    a ring and wake the kernel only when it asks (kick_tx, wake_rx).
//  - zero_copy asks for XDP_ZEROCOPY; a driver without it (veth, every
//    generic-XDP device) answers EOPNOTSUPP or EINVAL, and the socket is
//    rebuilt in copy mode. mode() tells which one you got, mode_note() why,
//    and a log line says so.
//  - multi_buffer sets XDP_USE_SG: packets larger than a frame arrive as
//    several descriptors, all but the last with XDP_PKT_CONTD in options. A
//    kernel or driver that refuses it makes the constructor throw.
//  - a socket whose queue still holds a closing socket gets EBUSY: the bind
//    is retried with a short backoff (bind_attempts() says how often).
//  - shared_umem_with: a second socket on the same Umem, on another queue or
//    interface. It gets its own fill and completion ring; zero-copy and
//    multi-buffer are inherited from the socket that registered the Umem.
//
// The socket belongs to the network namespace of the thread that creates it;
// ifname and ifindex are looked up there. Rings are single-producer/single-
// consumer: use one socket from one thread at a time.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "util/fd.hpp"
#include "xsk/mapping.hpp"
#include "xsk/ring.hpp"
#include "xsk/umem.hpp"

namespace xsk {

enum class Mode { copy, zerocopy };
const char* to_string(Mode m);

struct BusyPoll {
    int usecs = 20;      // SO_BUSY_POLL: how long a poll()/recvfrom busy-polls the queue
    int budget = 64;     // SO_BUSY_POLL_BUDGET: packets per busy-poll round
    bool prefer = true;  // SO_PREFER_BUSY_POLL: defer softirq processing to the busy poller
};

struct SocketOptions {
    // Ring sizes in descriptors (powers of two). rx_size or tx_size 0: no such ring
    // (a receive-only or send-only socket), not both.
    uint32_t rx_size = 2048;
    uint32_t tx_size = 2048;
    uint32_t fill_size = 2048;
    uint32_t comp_size = 2048;
    bool zero_copy = false;     // ask for zero-copy, fall back to copy (see mode())
    bool multi_buffer = false;  // XDP_USE_SG
    std::optional<BusyPoll> busy_poll;
    // A bound socket on the same Umem (another queue or interface): share it.
    const class Socket* shared_umem_with = nullptr;
    // How long to keep retrying a bind that fails with EBUSY.
    std::chrono::milliseconds bind_busy_timeout{1000};
};

// XDP_STATISTICS, the kernel's counters for one socket.
struct Statistics {
    uint64_t rx_dropped = 0;                // dropped for other reasons (e.g. no fill frame, packet too big)
    uint64_t rx_invalid_descs = 0;          // bad descriptors on the fill ring
    uint64_t tx_invalid_descs = 0;          // bad descriptors on the TX ring
    uint64_t rx_ring_full = 0;              // dropped: the RX ring was full
    uint64_t rx_fill_ring_empty_descs = 0;  // times the fill ring was found empty
    uint64_t tx_ring_empty_descs = 0;       // times the TX ring was found empty on a wakeup
};

class Socket {
public:
    // Throws xdpd::SysError naming the interface and queue (ENODEV for an
    // unknown name, EBUSY when the queue stayed busy, ENOMEM registering the
    // UMEM: RLIMIT_MEMLOCK, ...) and std::invalid_argument for bad options.
    Socket(Umem& umem, const std::string& ifname, uint32_t queue, const SocketOptions& opts = {});
    Socket(Umem& umem, int ifindex, uint32_t queue, const SocketOptions& opts = {});
    Socket(Socket&&) noexcept = default;
    Socket& operator=(Socket&&) = delete;
    ~Socket() = default;

    // For an XSKMAP: bpf_map_update_elem(xsks, &queue, &fd, 0).
    int fd() const { return fd_.get(); }
    int ifindex() const { return ifindex_; }
    uint32_t queue() const { return queue_; }
    Umem& umem() const { return *umem_; }
    const std::string& name() const { return name_; }  // "veth0 queue 1", for messages

    Mode mode() const { return mode_; }
    const std::string& mode_note() const { return mode_note_; }  // why copy when zero-copy was asked
    bool multi_buffer() const { return sg_; }
    int bind_attempts() const { return bind_attempts_; }  // 1 unless EBUSY was retried

    RxRing& rx() { return rx_; }
    TxRing& tx() { return tx_; }
    FillRing& fill() { return fill_; }
    CompletionRing& comp() { return comp_; }

    Statistics statistics() const;
    // Asks the kernel to send what is on the TX ring (sendto, MSG_DONTWAIT).
    // Transient errors (EAGAIN, EBUSY, ENOBUFS, ENETDOWN) are ignored: the
    // frames stay on the ring. Others throw.
    void kick_tx();
    // Waits up to timeout_ms (0: not at all) for received packets, and lets
    // the kernel process the fill ring when it asked for a wakeup. Returns
    // true when the RX ring has entries.
    bool wake_rx(int timeout_ms = 0);

private:
    void open(const SocketOptions& opts);
    void setup_rings(const SocketOptions& opts);
    int try_bind(const SocketOptions& opts, uint16_t flags);

    Umem* umem_;
    int ifindex_;
    uint32_t queue_;
    std::string name_;
    xdpd::UniqueFd fd_;
    Mapping rx_map_, tx_map_, fill_map_, comp_map_;
    RxRing rx_;
    TxRing tx_;
    FillRing fill_;
    CompletionRing comp_;
    Mode mode_ = Mode::copy;
    std::string mode_note_;
    bool sg_ = false;
    int bind_attempts_ = 0;
};

}  // namespace xsk
