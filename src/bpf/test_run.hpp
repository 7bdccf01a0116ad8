// Runs an XDP program on one packet with BPF_PROG_TEST_RUN: the real program in
// the real kernel, without an interface. Used by tests, benchmarks and lookups.
#pragma once
#include <linux/types.h>

#include <cstdint>
#include <vector>

namespace xdpd::bpf {

struct TestRunResult {
    __u32 action = 0;             // XDP verdict
    std::vector<uint8_t> packet;  // the packet as the program left it
    __u32 duration_ns = 0;        // average per repetition, as the kernel measured
};

struct TestRunOptions {
    __u32 repeat = 1;
    __u32 ingress_ifindex = 0;  // 0: the kernel's default (loopback)
    __u32 rx_queue = 0;
};

TestRunResult test_run(int prog_fd, const std::vector<uint8_t>& packet,
                       const TestRunOptions& opts = {});

}  // namespace xdpd::bpf
