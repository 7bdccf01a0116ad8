// Timing one program on one packet with BPF_PROG_TEST_RUN.
//
// Each trial is one BPF_PROG_TEST_RUN call with repeat = N: the kernel runs
// the program N times back to back on the same buffer and reports the average
// duration per run (integer ns, time spent preempted excluded). A measurement
// is the median over trials, after one warm-up call.
#pragma once
#include <linux/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace xdpd::bench {

struct MeasureOptions {
    __u32 repeat = 1'000'000;
    unsigned trials = 5;
    __u32 warmup_repeat = 100'000;  // one untimed call first (caches, branch predictors)
};

struct Measurement {
    __u32 verdict = 0;                 // XDP action the program returned
    std::vector<__u32> trial_ns;       // kernel's per-run average, one per trial
    std::vector<double> trial_wall_ns; // wall clock of the syscall / repeat
    double median_ns = 0, min_ns = 0, max_ns = 0;
    double median_wall_ns = 0;
    double mpps() const { return median_ns > 0 ? 1000.0 / median_ns : 0; }
};

// Returns the verdict of a single run (repeat = 1), without timing.
__u32 verdict_of(int prog_fd, const std::vector<uint8_t>& frame);

Measurement measure(int prog_fd, const std::vector<uint8_t>& frame, const MeasureOptions& opts);

double median(std::vector<double> v);

// Milliseconds since t0 (set-up times in reports).
double ms_since(std::chrono::steady_clock::time_point t0);
// "NAME (id N)" of a loaded program, "?" when the kernel does not say.
std::string prog_label(int prog_fd);

// Pins the calling thread to one CPU (-1: the last CPU it may run on). Returns
// the CPU. BPF_PROG_TEST_RUN runs the program on the calling CPU.
int pin_to_cpu(int cpu = -1);

// Set by SIGINT/SIGTERM once install_interrupt_handlers() ran; measure() and
// the set-up steps throw Interrupted when it is set, so that RAII cleans up
// (network interfaces, xdp-filter) on Ctrl-C too.
struct Interrupted {};
void install_interrupt_handlers();
void throw_if_interrupted();

}  // namespace xdpd::bench
