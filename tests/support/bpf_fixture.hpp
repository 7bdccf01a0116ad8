// PipelineFixture: the real xdpd program loaded into the kernel (unpinned),
// with the firewall installer on its maps, ready for BPF_PROG_TEST_RUN.
#pragma once
#include <gtest/gtest.h>

#include <memory>

#include "bpf/pipeline.hpp"
#include "bpf/test_run.hpp"
#include "fw/installer.hpp"
#include "support/packet_builder.hpp"

namespace xdpd::test {

class PipelineFixture : public ::testing::Test {
protected:
    // Loads the program with the given load-time config (firewall on by default).
    void load(bpf::PipelineConfig cfg = {.firewall = true});

    bpf::TestRunResult run(const Bytes& pkt, __u32 ifindex = 0);
    __u32 verdict(const Bytes& pkt, __u32 ifindex = 0) { return run(pkt, ifindex).action; }

    // Counters summed over CPUs, for the fixture's stats slot.
    xdpd_if_stats stats() const;
    __u64 reason_packets(xdpd_reason r) const { return stats().reason[r].packets; }
    __u64 action_packets(xdpd_action a) const { return stats().action[a].packets; }

    fw::InstallReport install(const fw::RuleSet& rs) { return installer_->install(rs); }
    fw::Installer& installer() { return *installer_; }

    std::unique_ptr<bpf::Pipeline> pipeline_;
    fw::FirewallMaps maps_;
    std::unique_ptr<fw::Installer> installer_;
};

// Shorthands for writing rules in tests.
fw::Rule rule(fw::Action a, fw::Match m, std::string id = "");
fw::Cidr cidr(const std::string& text);

}  // namespace xdpd::test
