// A capture session on a pinned data plane: claims xdpd_observe's capture
// (one at a time: refused while another live process owns it, taken over
// from a dead one), writes the filter, sample rate and snap length, then sets
// capture = 1, and reads the records of xdpd_capture_events (a perf buffer,
// libbpf) until it ends. Whatever ends it (destructor, exception), capture is
// 0 afterwards.
#pragma once
#include <linux/types.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "xdpd/abi.h"

struct perf_buffer;

namespace xdpd::capture {

// The longest snap length: the data plane's, and what one perf record holds.
// A record's size is 16 bits (perf_event_header.size): its 8-byte header, the
// 4-byte raw size, xdpd_capture_hdr and the packet, rounded up to 8, must fit
// in 65535 bytes, so at most 65484 bytes of packet. The kernel does not check:
// a longer record's size wraps, and the reader loses it or reads garbage
// (tests/bpf/capture_test.cpp shows the largest that works).
inline constexpr __u32 kPerfMaxSnap = ((0xffffu - 8) & ~7u) - 4 - sizeof(xdpd_capture_hdr);
static_assert(XDPD_CAPTURE_MAX_SNAP <= kPerfMaxSnap, "the data plane's snap length must fit in one perf record");
inline constexpr __u32 kMaxSnap = XDPD_CAPTURE_MAX_SNAP;

struct SessionConfig {
    xdpd_capture_filter filter{};
    __u32 sample = 1;           // 1 in N matching packets
    __u32 snaplen = kMaxSnap;   // bytes of each packet
    size_t buffer_pages = 128;              // perf buffer per CPU, power of 2 (128: 512 KiB)
};

// Another process captures: its pid, for the message.
class CaptureBusy : public std::runtime_error {
public:
    CaptureBusy(pid_t pid, const std::string& what) : std::runtime_error(what), pid_(pid) {}
    pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

// Data-plane counters (xdpd_observe_cpu summed over CPUs), since the start.
struct CaptureCounters {
    uint64_t seen = 0;  // packets that matched the filter
    uint64_t sent = 0;  // written to the perf buffer (1 in `sample` of those)
    uint64_t lost = 0;  // the perf buffer was full (or not open on that CPU)
};

// One record: its header and its caplen bytes (valid during the callback).
using OnRecord = std::function<void(const xdpd_capture_hdr& hdr, std::span<const uint8_t> packet)>;

class Session {
public:
    // bpffs: the data plane's pin directory (xdpd_observe, xdpd_observe_cpu,
    // xdpd_capture_events). Throws CaptureBusy, or runtime_error/SysError
    // saying what is missing.
    Session(const std::string& bpffs, const SessionConfig& cfg, OnRecord on_record);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Waits up to timeout_ms for records and hands them to on_record. Returns
    // the number handled; an interrupting signal returns 0. Rethrows what
    // on_record threw.
    int poll(int timeout_ms);
    // Ends the capture in the data plane (capture = 0), then hands over what is
    // still in the buffer. Idempotent; the destructor calls it.
    void stop();
    bool stopped() const { return stopped_; }
    // False once something else ended the capture (capture = 0, or another
    // owner: the daemon ends captures it believes orphaned).
    bool active() const;
    // Rethrows what on_record threw during stop()'s last read, if anything.
    void rethrow_error();

    CaptureCounters counters() const;         // data plane, since the start
    uint64_t lost_records() const { return lost_records_; }  // PERF_RECORD_LOST from libbpf
    uint64_t bad_records() const { return bad_records_; }    // shorter than their header says
    // A CLOCK_MONOTONIC time (xdpd_capture_hdr.time_ns) as CLOCK_REALTIME ns.
    uint64_t realtime_ns(uint64_t monotonic_ns) const;

    // True when pid names a running process (kill(pid, 0)).
    static bool alive(pid_t pid);

private:
    struct PerfBufferDeleter {
        void operator()(perf_buffer* pb) const;
    };
    // Owns xdpd_observe's capture fields from claim to release; the
    // destructor does both steps of the end, in order.
    class Claim {
    public:
        explicit Claim(xdpd_observe* o);  // throws CaptureBusy
        ~Claim();
        Claim(const Claim&) = delete;
        Claim& operator=(const Claim&) = delete;
        void off();      // capture = 0: the data plane stops sending
        void release();  // owner = 0 if still ours: another capture may start

    private:
        xdpd_observe* o_;
        bool held_ = true;
    };

    CaptureCounters read_counters() const;
    void refresh_clock();
    static void on_sample(void* ctx, int cpu, void* data, __u32 size);
    static void on_lost(void* ctx, int cpu, __u64 count);
    static enum bpf_perf_event_ret on_event(void* ctx, int cpu, perf_event_header* e);

    bpf::MapRef observe_, observe_cpu_, events_;
    bpf::MappedArray observe_mem_;
    xdpd_observe* obs_;
    std::unique_ptr<Claim> claim_;
    std::unique_ptr<perf_buffer, PerfBufferDeleter> pb_;  // freed before the claim is released (stop())
    OnRecord on_record_;
    std::exception_ptr error_;
    CaptureCounters base_{}, final_{};
    uint64_t lost_records_ = 0, bad_records_ = 0;
    int64_t mono_to_real_ns_ = 0;
    std::chrono::steady_clock::time_point clock_at_;
    bool stopped_ = false;
};

}  // namespace xdpd::capture
