// Port: one socket plus the frames it owns, for the common receive/transmit
// loop of one queue on one thread (rxdrop, l2fwd, echo). Not thread-safe:
// one Port per thread.
//
//   xsk::Umem umem({.frame_count = 4096});
//   xsk::Port port(umem, "eth0", 0);                 // frames 0..4095, fill ring primed
//   bpf_map_update_elem(xsks_fd, &queue, &fd, 0);    // fd = port.socket().fd()
//   for (;;) {
//       port.rx_batch([](const xsk::Packet& p) { use(p.segments[0].data, p.length); });
//       port.socket().wake_rx(100);                  // sleep until traffic comes
//   }
//
// Frames: the Port allocates from its own FramePool over frames
// [first_frame, first_frame + frame_count) of the Umem, so several Ports can
// share a Umem (PortOptions::socket.shared_umem_with) without sharing frames.
// Up to fill_frames of them are lent to the kernel for receiving; the rest
// are for sending. Received frames go back to the pool as soon as the
// callback returns: copy what you need to keep.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "xsk/frame_pool.hpp"
#include "xsk/socket.hpp"

namespace xsk {

// One descriptor's worth of a packet.
struct Segment {
    const uint8_t* data;
    uint32_t len;
    uint64_t addr;  // UMEM offset of data
};

// A received packet: one segment, or several with multi-buffer.
struct Packet {
    std::span<const Segment> segments;
    uint32_t length = 0;  // bytes in all segments
    std::vector<uint8_t> bytes() const;  // the segments joined
};

struct PortOptions {
    SocketOptions socket;
    uint32_t first_frame = 0;
    uint32_t frame_count = 0;  // 0: from first_frame to the end of the Umem
    // Frames lent to the kernel for receiving (capped by the fill ring).
    // 0: all of the Port's frames without a TX ring, else half of them.
    uint32_t fill_frames = 0;
};

class Port {
public:
    // Binds the socket (see Socket) and primes the fill ring. Throws as Socket does.
    Port(Umem& umem, const std::string& ifname, uint32_t queue, const PortOptions& opts = {});

    Socket& socket() { return sock_; }
    FramePool& frames() { return pool_; }

    // Lends free frames to the kernel until fill_frames are out. Returns how
    // many went onto the fill ring now.
    uint32_t refill();

    // Calls fn(const Packet&) for each packet on the RX ring (up to max
    // descriptors, at least 32), then recycles the frames and refills.
    // Returns the number of packets. Never blocks: wait with
    // socket().wake_rx(timeout) between batches.
    template <class F>
    uint32_t rx_batch(F&& fn, uint32_t max = 64);

    // Copies each frame into free frames and queues it on the TX ring
    // (several descriptors chained with XDP_PKT_CONTD when it is larger than
    // a frame and the socket is multi-buffer), then kicks the kernel.
    // Completed frames are reaped first. Returns how many frames were
    // queued: fewer when frames or TX ring entries ran out.
    uint32_t tx_batch(std::span<const std::span<const uint8_t>> frames);
    bool send(std::span<const uint8_t> frame) { return tx_batch({&frame, 1}) == 1; }
    // Takes sent frames back from the completion ring. Returns how many.
    uint32_t reap_completions();
    // Frames on the TX path not yet completed.
    uint32_t tx_in_flight() const { return tx_in_flight_; }

private:
    Umem* umem_;
    Socket sock_;
    FramePool pool_;
    uint32_t fill_target_ = 0;
    uint32_t in_fill_ = 0;  // frames lent to the kernel for RX
    uint32_t tx_in_flight_ = 0;
    std::vector<Segment> segs_;
};

template <class F>
uint32_t Port::rx_batch(F&& fn, uint32_t max) {
    RxRing& rx = sock_.rx();
    if (max < 32) max = 32;
    uint32_t idx = 0;
    uint32_t n = rx.peek(max, &idx);
    if (n == 0) {
        if (sock_.fill().needs_wakeup()) sock_.wake_rx(0);
        refill();
        return 0;
    }
    uint32_t done = 0, packets = 0, total = 0;
    segs_.clear();
    for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc& d = rx.at(idx + i);
        segs_.push_back({umem_->data(d.addr), d.len, d.addr});
        total += d.len;
        if (d.options & XDP_PKT_CONTD) continue;
        fn(Packet{segs_, total});
        ++packets;
        for (const Segment& s : segs_) pool_.free(s.addr);
        in_fill_ -= uint32_t(segs_.size());
        segs_.clear();
        total = 0;
        done = i + 1;
    }
    if (done < n) rx.unpeek(n - done);  // the rest of that packet is not there yet
    rx.release(done);
    refill();
    return packets;
}

}  // namespace xsk
