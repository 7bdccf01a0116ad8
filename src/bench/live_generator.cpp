#include "bench/live_generator.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace xdpd::bench {
namespace {

int load_xdp_tx() {
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = XDP_TX},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    return bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_gen_tx", "GPL", insns, 2, nullptr);
}

}  // namespace

FrameGenerator::FrameGenerator(const net::Netns& tx, int tx_ifindex, std::vector<uint8_t> frame, int cpu,
                               bool rt, int procs) {
    for (int i = 0; i < procs; ++i) children_.push_back(net::Process::fork(
        &tx,
        [this, tx_ifindex, frame, cpu, rt]() mutable -> int {
            if (cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                if (sched_setaffinity(0, sizeof set, &set)) {
                    std::fprintf(stderr, "generator: pin to CPU %d: %s\n", cpu, std::strerror(errno));
                    return 2;
                }
            }
            if (rt) {
                sched_param sp{};
                sp.sched_priority = 1;
                if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
                    std::fprintf(stderr, "generator: SCHED_FIFO: %s\n", std::strerror(errno));
                    return 2;
                }
            }
            int fd = load_xdp_tx();
            if (fd < 0) {
                std::fprintf(stderr, "generator: load XDP_TX program: %s\n", std::strerror(-fd));
                return 2;
            }
            xdp_md ctx{};
            ctx.data_end = __u32(frame.size());
            ctx.ingress_ifindex = __u32(tx_ifindex);
            LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_size_in = __u32(frame.size()),
                        .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = kBatch,
                        .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
            while (!stop_.get()) {
                if (int r = bpf_prog_test_run_opts(fd, &o); r) {
                    std::fprintf(stderr, "generator: BPF_PROG_TEST_RUN (live frames): %s\n",
                                 std::strerror(errno));
                    return 3;
                }
                sent_.add(kBatch);
            }
            return 0;
        },
        "xdpd-livebench generator"));
}

FrameGenerator::~FrameGenerator() {
    stop_.add(1);
    for (auto& c : children_) {
        try {
            if (c.running()) c.wait(std::chrono::seconds(5));
        } catch (...) {
        }
    }  // then each Process's destructor kills what still runs
}

void FrameGenerator::stop() {
    stop_.add(1);
    std::string errors;
    for (auto& c : children_) {
        auto code = c.wait(std::chrono::seconds(10));
        if (!code) {
            c.stop();
            errors += "a generator did not stop in 10 s; ";
        } else if (*code != 0) {
            errors += "generator failed (exit " + std::to_string(*code) + "): " + c.err() + "; ";
        }
    }
    if (!errors.empty()) throw std::runtime_error(errors);
}

}  // namespace xdpd::bench
