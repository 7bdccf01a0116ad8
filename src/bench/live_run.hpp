// The live benchmark's measurement: for each case, put its mechanism on the
// receiving interface, start the flood, and read the mechanism's own drop
// counter, the generator's count and the veth's counters at the start and at
// the end of an interval of --seconds (after a warm-up). Mpps = counter delta
// / measured interval. After the generator stopped and the ring drained, the
// totals over the whole case are compared: frames the sender's veth handed
// to the receiver vs packets the mechanism counted as dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/live_topology.hpp"
#include "bench/report.hpp"

namespace xdpd::bench {

enum class LiveKind {
    drop, xdpd_fw, xdpd_ban, xdpd_capture, nft_ingress, nft_prerouting,
    // receivers that hand the flood to userspace (live_sockets.hpp)
    xsk_rxdrop, xsk_bare, af_packet_v3, recvmmsg, testpmd_af_packet, testpmd_af_xdp
};

struct LiveCase {
    std::string name;  // "drop", "xdpd-fw", ...
    LiveKind kind;
};

// "default", "sockets" (drop and the userspace receivers) or a
// comma-separated list of case names; throws on unknown names.
std::vector<LiveCase> parse_live_cases(const std::string& list);
std::string live_case_help();

struct LiveOptions {
    double seconds = 5;       // measured interval per case
    double warmup = 0.5;      // flood running before the interval starts
    int gen_cpu = 0;          // the generator's CPU
    int gen_procs = 2;        // generator processes sharing that CPU (see live_generator.hpp)
    int rx_cpu = 1;           // the receiver's NAPI thread (-1: softirq on gen_cpu)
    int app_cpu = -2;         // the socket receivers' thread (-2: rx_cpu, or gen_cpu when that is -1)
    bool rt = false;          // generator and NAPI thread SCHED_FIFO (ahead of other work)
    size_t frame_len = 64;    // without FCS
    std::string xdpd_binary;  // for the xdpd cases
    bool verbose = true;      // progress on stderr
    bool sockets = false;     // the userspace receivers' table (received, lost, CPU)

    int app_cpu_or_default() const { return app_cpu != -2 ? app_cpu : rx_cpu >= 0 ? rx_cpu : gen_cpu; }
    // The receive side's CPUs (NAPI and application), whose time is measured.
    std::vector<int> receive_cpus() const;
};

// One counter reading.
struct LiveSample {
    double t = 0;              // s since the case started (midpoint of the reading)
    double read_ms = 0;        // how long the reading took
    uint64_t sent = 0;         // frames the generator injected (coarse: counted per batch)
    uint64_t xmit = 0;         // sender veth tx_queue_*_xdp_xmit: into the receiver's ring
    uint64_t xmit_errors = 0;  // sender veth tx_queue_*_xdp_xmit_errors: ring full, lost
    uint64_t dropped = 0;      // the mechanism's own drop counter
    uint64_t xdp_drops = 0;    // receiver veth rx_queue_*_xdp_drops (any XDP program)
    uint64_t socket_drops = 0; // socket receivers: what the socket lost (ring/buffer full)
    double app_cpu_s = 0;      // socket receivers: CPU time of the receiving thread/process
    double napi_cpu_s = 0;     // CPU time of the receiver's NAPI thread (threaded NAPI only)
    double cpu_busy_s = 0;     // /proc/stat: non-idle time of the receive side's CPUs
    double cpu_total_s = 0;    // /proc/stat: all time of those CPUs
};

struct LiveResult {
    LiveCase c;
    enum class Status { ok, error } status = Status::ok;
    std::string error;
    std::string where, counter;  // where it runs, which counter
    bool socket = false;         // a userspace receiver: `dropped` counts what it received
    LiveSample start, end;       // the measured interval
    LiveSample before, after;    // around the whole flood (generator stopped, drained)

    double seconds() const { return end.t - start.t; }
    double rate(uint64_t LiveSample::*f) const {
        return seconds() > 0 ? double(end.*f - start.*f) / seconds() / 1e6 : 0;
    }
    double dropped_mpps() const { return rate(&LiveSample::dropped); }
    // Frames the sender's veth tried to hand over: into the ring or lost.
    double offered_mpps() const { return rate(&LiveSample::xmit) + rate(&LiveSample::xmit_errors); }
    double delivered_mpps() const { return rate(&LiveSample::xmit); }
    double ring_full_share() const;  // of the frames offered in the interval, lost at the full ring
    // Whole flood: frames handed to the receiver, and the mechanism's count.
    uint64_t total_delivered() const { return after.xmit - before.xmit; }
    uint64_t total_dropped() const { return after.dropped - before.dropped; }
    uint64_t total_sent() const { return after.sent; }

    // The receive side's CPUs during the interval: busy share (1 = one
    // whole CPU busy), the receiving application's share of one CPU, and
    // packets counted per busy CPU-second.
    double cpu_busy() const {
        return end.cpu_total_s > start.cpu_total_s ? (end.cpu_busy_s - start.cpu_busy_s) /
                                                         (end.cpu_total_s - start.cpu_total_s) * ncpus
                                                   : 0;
    }
    double app_cpu() const { return seconds() > 0 ? (end.app_cpu_s - start.app_cpu_s) / seconds() : 0; }
    double napi_cpu() const { return seconds() > 0 ? (end.napi_cpu_s - start.napi_cpu_s) / seconds() : 0; }
    // The receive side's own CPU time in the interval: NAPI thread +
    // application (threaded NAPI); else the busy time of its CPUs.
    double receive_cpu_seconds() const {
        double own = (end.napi_cpu_s - start.napi_cpu_s) + (end.app_cpu_s - start.app_cpu_s);
        return end.napi_cpu_s > 0 ? own : end.cpu_busy_s - start.cpu_busy_s;
    }
    // Packets counted per CPU-second of the receive side's own time.
    double mpps_per_cpu() const {
        double busy = receive_cpu_seconds();
        return busy > 0 ? double(end.dropped - start.dropped) / busy / 1e6 : 0;
    }
    // Of the frames handed to the receiver in the interval, the share its
    // application did not count (lost in the socket, or on the way to it).
    double lost_share() const {
        uint64_t in = end.xmit - start.xmit, got = end.dropped - start.dropped;
        return in && in > got ? double(in - got) / double(in) : 0;
    }
    int ncpus = 1;  // CPUs in receive_cpus()
};

struct LiveRun {
    RunInfo info;         // date, kernel, CPU, load average, command
    std::string napi;     // where the receiver's NAPI ran
    std::string frame;    // the flood's packet, in words
    std::vector<LiveResult> results;
};

// Builds the topology, runs every case in order (an error in one is reported
// in its result, and the next runs), removes everything; also on Ctrl-C
// (throws Interrupted after cleaning up).
LiveRun run_live(const std::vector<LiveCase>& cases, const LiveOptions& o, RunInfo info);

}  // namespace xdpd::bench
