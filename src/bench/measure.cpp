#include "bench/measure.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "bpf/test_run.hpp"
#include "util/error.hpp"

namespace xdpd::bench {
namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted = true; }

bpf::TestRunResult run_checked(int prog_fd, const std::vector<uint8_t>& frame, __u32 repeat) {
    throw_if_interrupted();
    try {
        return bpf::test_run(prog_fd, frame, {.repeat = repeat});
    } catch (const SysError& e) {
        // A signal arriving during a long repeat loop makes the kernel return EINTR.
        if (e.code() == EINTR && g_interrupted) throw Interrupted{};
        throw;
    }
}

}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: BPF_PROG_TEST_RUN returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

void throw_if_interrupted() {
    if (g_interrupted) throw Interrupted{};
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

__u32 verdict_of(int prog_fd, const std::vector<uint8_t>& frame) {
    return run_checked(prog_fd, frame, 1).action;
}

Measurement measure(int prog_fd, const std::vector<uint8_t>& frame, const MeasureOptions& opts) {
    Measurement m;
    m.verdict = run_checked(prog_fd, frame, 1).action;
    if (opts.warmup_repeat) run_checked(prog_fd, frame, opts.warmup_repeat);
    std::vector<double> ns, wall;
    for (unsigned t = 0; t < std::max(1u, opts.trials); ++t) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = run_checked(prog_fd, frame, opts.repeat);
        auto t1 = std::chrono::steady_clock::now();
        m.trial_ns.push_back(r.duration_ns);
        double w = std::chrono::duration<double, std::nano>(t1 - t0).count() / opts.repeat;
        m.trial_wall_ns.push_back(w);
        ns.push_back(r.duration_ns);
        wall.push_back(w);
    }
    m.median_ns = median(ns);
    m.min_ns = *std::min_element(ns.begin(), ns.end());
    m.max_ns = *std::max_element(ns.begin(), ns.end());
    m.median_wall_ns = median(wall);
    return m;
}

int pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set)) throw SysError("sched_getaffinity", errno);
    if (cpu < 0) {
        for (int c = CPU_SETSIZE - 1; c >= 0; --c)
            if (CPU_ISSET(c, &set)) {
                cpu = c;
                break;
            }
        if (cpu < 0) throw std::runtime_error("no CPU in this thread's affinity mask");
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set))
        throw SysError("pin to CPU " + std::to_string(cpu) + " (sched_setaffinity)", errno);
    return cpu;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string prog_label(int fd) {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len)) return "?";
    return fmt::format("{} (id {})", info.name, info.id);
}

}  // namespace xdpd::bench
