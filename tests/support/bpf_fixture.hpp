// PipelineFixture: the real xdpd program loaded into the kernel (unpinned),
// with the firewall installer on its maps, ready for BPF_PROG_TEST_RUN.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "bpf/pipeline.hpp"
#include "bpf/test_run.hpp"
#include "fw/installer.hpp"
#include "support/packet_builder.hpp"

namespace xdpd::test {

// What one packet did to the interface counters: the one action, reason, L3
// and L4 counter it incremented. ok is false (and a test failure has been
// added) when the packet did not increment exactly one counter of each
// family by one packet and by its frame length in bytes.
struct Observation {
    __u32 action = ~0u;
    int reason = -1, l3 = -1, l4 = -1;
    bool ok = false;
};

class PipelineFixture : public ::testing::Test {
protected:
    // Loads the program with the given load-time config (firewall on by default).
    void load(bpf::PipelineConfig cfg = {.firewall = true});

    // ifindex 0: no context is passed, and the kernel runs the program as if
    // the packet had arrived on loopback (ingress_ifindex 1). Any other ifindex
    // must name an existing device.
    bpf::TestRunResult run(const Bytes& pkt, __u32 ifindex = 0);
    __u32 verdict(const Bytes& pkt, __u32 ifindex = 0) { return run(pkt, ifindex).action; }
    // Like run(), but returns the errno of a failed BPF_PROG_TEST_RUN (0: ran).
    int try_run(const Bytes& pkt, __u32 ifindex, __u32* action, Bytes* out_pkt = nullptr);
    // Runs pkt and reports what it counted (see Observation).
    Observation observe(const Bytes& pkt, __u32 ifindex = 0);

    // Counters summed over CPUs, for the fixture's stats slot.
    xdpd_if_stats stats() const;
    __u64 reason_packets(xdpd_reason r) const { return xdpd_reason_total(stats(), r).packets; }
    __u64 action_packets(xdpd_action a) const { return stats().action[a].packets; }
    // A rule counter slot summed over CPUs.
    xdpd_counter rule_slot_counter(__u32 slot) const;

    fw::InstallReport install(const fw::RuleSet& rs) { return installer_->install(rs); }
    fw::Installer& installer() { return *installer_; }

    std::unique_ptr<bpf::Pipeline> pipeline_;
    fw::FirewallMaps maps_;
    std::unique_ptr<fw::Installer> installer_;
};

// A throw-away network device for ingress-interface tests: dummy when the
// kernel has it, else ifb, else a veth pair. Deleted on destruction.
class TestNetdev {
public:
    TestNetdev();
    ~TestNetdev();
    TestNetdev(const TestNetdev&) = delete;
    TestNetdev& operator=(const TestNetdev&) = delete;

    const std::string& name() const { return name_; }
    __u32 ifindex() const { return ifindex_; }
    const std::string& kind() const { return kind_; }

private:
    std::string name_, kind_;
    __u32 ifindex_ = 0;
};

const char* reason_name(int r);
const char* l3_name(int l3);
const char* l4_name(int l4);

// Shorthands for writing rules in tests.
fw::Rule rule(fw::Action a, fw::Match m, std::string id = "");
fw::Cidr cidr(const std::string& text);

}  // namespace xdpd::test
