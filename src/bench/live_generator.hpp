// The live benchmark's traffic generator: the method of xdp-trafficgen,
// without its tracepoint programs (xdp-tools 1.3.1 fails to load on Linux
// 6.18: its `tp_btf/xdp_redirect_map_err` attach point no longer exists).
//
// A two-instruction XDP program (`return XDP_TX`) runs under
// BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES and ingress_ifindex = the
// sender's veth end: the kernel builds a real xdp_frame from the template
// frame for every repetition and, for XDP_TX, redirects it out of that
// interface (ndo_xdp_xmit): the veth peer receives it as an XDP frame. The
// generator runs in forked children inside the sender's namespace, pinned to
// one CPU, until stopped; they count the frames they injected.
//
// Every BPF_PROG_TEST_RUN call in live-frames mode costs ~20 ms of set-up and
// tear-down during which it sends nothing (on this VM; the kernel swaps the
// XDP dispatcher in and out, which waits for RCU grace periods). Hence large
// batches, and two children by default sharing the CPU: one sends while the
// other waits.
#pragma once
#include <cstdint>
#include <vector>

#include "net/netns.hpp"
#include "net/process.hpp"
#include "net/shared_counter.hpp"

namespace xdpd::bench {

class FrameGenerator {
public:
    // Starts `procs` children at once. cpu: where they run (-1: not pinned).
    // rt: run them SCHED_FIFO (priority 1), ahead of every normal task there.
    FrameGenerator(const net::Netns& tx, int tx_ifindex, std::vector<uint8_t> frame, int cpu, bool rt = false,
                   int procs = 2);
    ~FrameGenerator();  // stops the child
    FrameGenerator(const FrameGenerator&) = delete;
    FrameGenerator& operator=(const FrameGenerator&) = delete;

    // Frames injected so far (updated after every test-run call of kBatch:
    // coarse; the sender veth's counters are exact).
    uint64_t sent() const { return sent_.get(); }
    // Asks the children to stop after their current call and waits for them.
    // Throws with a child's stderr if it failed.
    void stop();

    static constexpr uint32_t kBatch = 1u << 18;  // repetitions per BPF_PROG_TEST_RUN call

private:
    net::SharedCounter sent_, stop_;
    std::vector<net::Process> children_;
};

}  // namespace xdpd::bench
