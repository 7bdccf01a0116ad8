// Queue: one RX queue's AF_XDP socket, its UMEM and frames, and the loop its
// pinned worker thread runs: receive a batch, let the Handler decide, send
// back in place (the RX descriptor goes onto the TX ring as it is), recycle
// sent frames from the completion ring into the fill ring. Nothing is shared
// with other queues except the counters the reporter reads.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "xsk/frame_pool.hpp"
#include "xsk/socket.hpp"
#include "xsk/umem.hpp"
#include "xskapp/handler.hpp"
#include "xskapp/options.hpp"
#include "xskapp/stats.hpp"

namespace xdpd::xskapp {

class Queue {
public:
    // Binds the socket (in the calling thread's namespace) and lends every
    // frame it can to the kernel. Throws SysError naming interface and queue.
    Queue(const AppOptions& o, uint32_t queue, int cpu, bool with_tx);
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    uint32_t id() const { return queue_; }
    int cpu() const { return cpu_; }
    int fd() const { return sock_.fd(); }
    const xsk::Socket& socket() const { return sock_; }
    const xsk::Umem& umem() const { return umem_; }
    const QueueCounters& counters() const { return counters_; }

    // The worker thread's body: pins and names the thread, loops until stop.
    void run(Handler& h, const std::atomic<bool>& stop);

private:
    void refill();
    void reap();
    uint32_t rx_batch(Handler& h);

    AppOptions opts_;
    uint32_t queue_;
    int cpu_;
    xsk::Umem umem_;
    xsk::Socket sock_;
    xsk::FramePool pool_;
    QueueCounters counters_;
};

}  // namespace xdpd::xskapp
