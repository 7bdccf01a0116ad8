#include "xskapp/queue.hpp"

#include <algorithm>

#include "xsk/thread.hpp"

namespace xdpd::xskapp {
namespace {

uint32_t pow2_at_least(uint32_t n, uint32_t lo, uint32_t hi) {
    uint32_t p = lo;
    while (p < n && p < hi) p <<= 1;
    return p;
}

xsk::SocketOptions socket_options(const AppOptions& o, bool with_tx) {
    xsk::SocketOptions s;
    // Rings big enough for every frame, so a frame always has a place to go.
    const uint32_t ring = pow2_at_least(o.frames, 64, 8192);
    s.rx_size = s.fill_size = s.comp_size = ring;
    s.tx_size = with_tx ? ring : 0;
    s.zero_copy = o.zero_copy;
    if (o.busy_poll_usecs) s.busy_poll = xsk::BusyPoll{.usecs = *o.busy_poll_usecs, .budget = int(o.batch)};
    return s;
}

}  // namespace

Queue::Queue(const AppOptions& o, uint32_t queue, int cpu, bool with_tx)
    : opts_(o), queue_(queue), cpu_(cpu),
      umem_(xsk::UmemConfig{.frame_size = o.frame_size, .frame_count = o.frames, .hugepages = o.hugepages}),
      sock_(umem_, o.interface, queue, socket_options(o, with_tx)),
      pool_(0, o.frames, o.frame_size) {
    refill();
}

void Queue::refill() {
    xsk::FillRing& fq = sock_.fill();
    const uint32_t want = uint32_t(pool_.available());
    if (want == 0) return;
    uint32_t idx = 0;
    const uint32_t n = fq.reserve(want, &idx);
    for (uint32_t i = 0; i < n; ++i) fq.at(idx + i) = pool_.alloc();
    if (n) fq.submit(n);
    if (n < want) QueueCounters::add(counters_.fill_fail, 1);
}

void Queue::reap() {
    xsk::CompletionRing& cq = sock_.comp();
    if (!cq.valid()) return;
    uint32_t idx = 0;
    while (uint32_t n = cq.peek(256, &idx)) {
        for (uint32_t i = 0; i < n; ++i) pool_.free(cq.at(idx + i));
        cq.release(n);
    }
}

uint32_t Queue::rx_batch(Handler& h) {
    xsk::RxRing& rx = sock_.rx();
    uint32_t ridx = 0;
    const uint32_t n = rx.peek(opts_.batch, &ridx);
    if (n == 0) return 0;
    xsk::TxRing& tx = sock_.tx();
    uint32_t tidx = 0, tfree = 0, tused = 0;
    if (tx.valid()) tfree = tx.reserve(n, &tidx);
    uint64_t rx_bytes = 0, tx_bytes = 0, other = 0, full = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc d = rx.at(ridx + i);
        Frame f{umem_.data(d.addr), d.len, queue_};
        rx_bytes += d.len;
        const Verdict v = h.on_packet(f);
        if (v == Verdict::tx && tused < tfree) {
            xdp_desc& t = tx.at(tidx + tused++);
            t.addr = d.addr;
            t.len = f.len;
            t.options = 0;
            tx_bytes += f.len;
            continue;
        }
        if (v == Verdict::tx) ++full;
        if (v == Verdict::not_for_me) ++other;
        pool_.free(d.addr);
    }
    rx.release(n);
    if (tx.valid()) {
        tx.cancel(tfree - tused);
        if (tused) {
            tx.submit(tused);
            // Copy mode sends only from a syscall; zero-copy drivers ask via need_wakeup.
            if (sock_.mode() == xsk::Mode::copy || tx.needs_wakeup()) {
                sock_.kick_tx();
                QueueCounters::add(counters_.tx_kicks, 1);
            }
        }
    }
    QueueCounters::add(counters_.rx_packets, n);
    QueueCounters::add(counters_.rx_bytes, rx_bytes);
    QueueCounters::add(counters_.tx_packets, tused);
    QueueCounters::add(counters_.tx_bytes, tx_bytes);
    if (other) QueueCounters::add(counters_.not_for_me, other);
    if (full) QueueCounters::add(counters_.tx_ring_full, full);
    return n;
}

void Queue::run(Handler& h, const std::atomic<bool>& stop) {
    xsk::pin_current_thread(cpu_);
    xsk::name_current_thread("xsk-" + opts_.interface.substr(0, 6) + "-q" + std::to_string(queue_));
    const bool busy = opts_.busy_poll_usecs.has_value();
    while (!stop.load(std::memory_order_relaxed)) {
        reap();
        refill();
        if (rx_batch(h) > 0) continue;
        QueueCounters::add(counters_.rx_empty_polls, 1);
        // Frames left on the TX ring by a transient sendto error: kick again.
        if (sock_.tx().valid() && sock_.tx().outstanding()) {
            sock_.kick_tx();
            QueueCounters::add(counters_.tx_kicks, 1);
        }
        // Nothing received: sleep in poll() until traffic comes (100 ms at
        // most, to see `stop`), or with busy polling let poll() spin the queue.
        sock_.wake_rx(busy ? 0 : 100);
    }
}

}  // namespace xdpd::xskapp
