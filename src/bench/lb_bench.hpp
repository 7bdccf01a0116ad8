// The load balancer's cost per packet with BPF_PROG_TEST_RUN (xdpd-bench's
// lb* cases): the xdpd pipeline with the LB stage, its maps filled by the
// real installer (lb::Installer), run in a network namespace of its own where
// bpf_fib_lookup succeeds:
//
//   PREFIX-lb:  lbb0 ──veth── lbb1
//               lbb0: 10.77.0.1/24 fd77::1/64 (clients) 10.78.0.1/24 fd78::1/64 (backends)
//               permanent neighbours: the client 10.77.0.2 / fd77::2 and the
//               backends 10.78.0.11-13 / fd78::11-13; forwarding on
//
// Test runs pass ingress_ifindex = lbb0, so the backends' and the client's
// routes leave by the interface the packet came in on: XDP_TX. Services:
//   web4 tcp 10.99.0.1:80 -> 10.78.0.11-13:8080 (NAT)
//   dns4 udp 10.99.0.1:53 -> 10.78.0.11-13:5353 (NAT)
//   web6 tcp [fd99::1]:80 -> [fd78::11-13]:8080 (NAT)
//   dsr4 tcp 10.99.0.2:80 -> 10.78.0.11-13      (DSR)
//
// Timing: ONE program run per BPF_PROG_TEST_RUN call. A NAT forward rewrites
// the packet, and `repeat` runs the program again on its own output (the
// kernel does not restore the packet between repetitions): the second run
// would see a packet to the backend, not to the VIP. So every call starts
// from the original frame, and the figure is the mean of the kernel's per-call
// durations (integer ns each, averaged over many calls; the median over
// trials is reported). Each call's figure includes the test-run loop's fixed
// cost once (a clock read, bottom halves off and on): compare with the `drop`
// and `off` programs measured the same way in the same run (call-drop,
// call-off), not with figures from `repeat`.
#pragma once
#include <linux/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/measure.hpp"
#include "bench/packets.hpp"

namespace xdpd::bench {

// The lb* cases.
enum class LbCase {
    hit4,      // lb4-hit:     TCP ACK of an established flow (in the connection table), IPv4, NAT
    miss4,     // lb4-miss:    TCP SYN (never looks in the table: Maglev ring, then insert), IPv4, NAT
    new4,      // lb4-new:     TCP ACK of a flow not in the table: a fresh flow every call (ring, insert)
    hit6,      // lb6-hit
    miss6,     // lb6-miss
    udp_hit4,  // lb4-udp-hit: UDP of an established flow, IPv4, NAT
    reply4,    // lb-reply4:   a NAT backend's reply, rewritten to come from the VIP
    dsr_hit4,  // lb4-dsr-hit: TCP ACK of an established flow, IPv4, DSR (MACs only)
};

// "lb4-hit", ...; all of them, in order.
const char* lb_case_name(LbCase c);
const std::vector<LbCase>& lb_cases();

// Timing of one frame generator: call i runs frame(i), once.
Measurement measure_calls(int prog_fd, __u32 ingress_ifindex, const std::function<const Frame&(size_t)>& frame,
                          __u32 calls, unsigned trials, __u32 warmup_calls);

class LbBench {
public:
    // Builds the namespace and loads the pipeline; throws on failure (after
    // removing what it built).
    LbBench();
    ~LbBench();
    LbBench(const LbBench&) = delete;
    LbBench& operator=(const LbBench&) = delete;

    struct Result {
        Measurement m;
        std::string packet;             // what was sent, in words
        size_t frame_len = 0;
        std::vector<std::string> notes; // the proof of the path taken
    };
    // Checks the case's verdict, reason and table path, then times it.
    Result run(LbCase c, __u32 calls, unsigned trials);
    // A baseline program timed the same way, on the lb4-hit frame.
    Measurement baseline(int prog_fd, __u32 calls, unsigned trials);

    int prog_fd() const;
    std::string program() const;  // "xdpd_pipeline (id 42)"
    std::string setup() const;    // the namespace, for notes

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace xdpd::bench
