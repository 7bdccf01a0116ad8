// The verifier must accept the pipeline with any set of stages compiled in:
// their paths multiply, so each stage loading alone proves little (firewall +
// rate limits + SYN cookies once went past the verifier's 1M-instruction
// budget). All 32 combinations of the optional stages, with multi-buffer on
// (its length checks add paths), and SYN cookies in both modes; steering with
// none, some and all of them.
#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

class PipelineFeatures : public PipelineFixture {};

TEST_F(PipelineFeatures, EveryCombinationLoads) {
    // Every combination of the first five stages; the load balancer's three
    // variants (DSR only, with NAT, probe) with none, one and all of them.
    std::vector<int> combos;
    for (int m = 0; m < 32; ++m) combos.push_back(m);
    for (int lb : {32, 64 + 32, 128 + 64 + 32})
        for (int m : {0, 1, 31}) combos.push_back(lb | m);
    // Steering (256) alone, with the firewall, with every stage, with NAT LB.
    for (int m : {0, 1, 31, 64 + 32 + 31}) combos.push_back(256 | m);
    for (int m : combos) {
        bpf::PipelineConfig cfg{.firewall = bool(m & 1), .shield = bool(m & 2), .ratelimit = bool(m & 4),
                                .watch = bool(m & 8)};
        cfg.multibuf = true;
        if (m & 16) {
            cfg.syncookie_ports = {80, 443};
            cfg.syncookie_auto = bool(m & 8);  // auto mode goes with the watch stage
        }
        cfg.lb = m & 32;
        cfg.lb_nat = m & 64;
        cfg.lb_probe = m & 128;
        cfg.steer = m & 256;
        cfg.steer_no_socket = (m & 2) ? XDPD_ACT_DROP : XDPD_ACT_PASS;
        EXPECT_NO_THROW(load(cfg)) << cfg.describe();
    }
}

}  // namespace
}  // namespace xdpd::test
