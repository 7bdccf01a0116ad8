#include "support/bpf_fixture.hpp"

#include <stdexcept>

namespace xdpd::test {

void PipelineFixture::load(bpf::PipelineConfig cfg) {
    installer_.reset();
    pipeline_ = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load(cfg));
    maps_ = fw::FirewallMaps{pipeline_->map("xdpd_runtime"), pipeline_->map("xdpd_fw_tuples"),
                             pipeline_->map("xdpd_fw_entries"),
                             pipeline_->map("xdpd_rule_stats"), pipeline_->map("xdpd_fw_slots")};
    installer_ = std::make_unique<fw::Installer>(maps_);
}

bpf::TestRunResult PipelineFixture::run(const Bytes& pkt, __u32 ifindex) {
    return bpf::test_run(pipeline_->prog_fd(), pkt, {.ingress_ifindex = ifindex});
}

xdpd_if_stats PipelineFixture::stats() const {
    auto m = pipeline_->map("xdpd_stats");
    bpf::PerCpuMap<__u32, xdpd_if_stats> pc(m);
    xdpd_if_stats sum{};
    for (const auto& s : pc.lookup_all(pipeline_->config().ifslot)) {
        auto add = [](xdpd_counter* d, const xdpd_counter* s, size_t n) {
            for (size_t i = 0; i < n; ++i) {
                d[i].packets += s[i].packets;
                d[i].bytes += s[i].bytes;
            }
        };
        add(sum.action, s.action, XDPD_ACT_MAX);
        add(sum.reason, s.reason, XDPD_R_MAX);
        add(sum.l3, s.l3, XDPD_L3_MAX);
        add(sum.l4, s.l4, XDPD_L4_MAX);
    }
    return sum;
}

fw::Rule rule(fw::Action a, fw::Match m, std::string id) {
    fw::Rule r;
    r.action = a;
    r.match = std::move(m);
    r.id = std::move(id);
    r.origin = "test";
    return r;
}

fw::Cidr cidr(const std::string& text) {
    std::string why;
    auto c = fw::Cidr::parse(text, &why);
    if (!c) throw std::invalid_argument(why);
    return *c;
}

}  // namespace xdpd::test
