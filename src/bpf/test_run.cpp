#include "bpf/test_run.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "util/error.hpp"

namespace xdpd::bpf {

TestRunResult test_run(int prog_fd, const std::vector<uint8_t>& packet,
                       const TestRunOptions& opts) {
    TestRunResult r;
    r.packet.resize(packet.size() + 256);
    xdp_md ctx{};
    ctx.ingress_ifindex = opts.ingress_ifindex;
    ctx.rx_queue_index = opts.rx_queue;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = packet.data(),
                .data_out = r.packet.data(), .data_size_in = __u32(packet.size()),
                .data_size_out = __u32(r.packet.size()), .repeat = int(opts.repeat));
    if (opts.ingress_ifindex || opts.rx_queue) {
        ctx.data_end = __u32(packet.size());  // the kernel reads it as the linear length
        o.ctx_in = &ctx;
        o.ctx_size_in = sizeof ctx;
    }
    check(bpf_prog_test_run_opts(prog_fd, &o), "BPF_PROG_TEST_RUN");
    r.action = o.retval;
    r.duration_ns = o.duration;
    r.packet.resize(o.data_size_out);
    return r;
}

}  // namespace xdpd::bpf
