// A program the kernel refuses is reported with the verifier's own reason.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "bpf/load.hpp"
#include "bpf/pipeline.hpp"
#include "rejected.skel.h"
#include "util/fd.hpp"
#include "xdpd/abi.h"

namespace xdpd::test {
namespace {

TEST(LoadError, CarriesTheVerifiersReasonAndTheFeatures) {
    rejected_bpf* skel = rejected_bpf__open();
    ASSERT_NE(skel, nullptr);
    try {
        bpf::load_explained([&] { return rejected_bpf__load(skel); }, "the test program", "firewall=on");
        rejected_bpf__destroy(skel);
        FAIL() << "the verifier accepted an unchecked packet read";
    } catch (const bpf::LoadError& e) {
        rejected_bpf__destroy(skel);
        std::string what = e.what();
        EXPECT_NE(what.find("the kernel rejected the test program with features [firewall=on]"), std::string::npos) << what;
        EXPECT_NE(what.find("Permission denied"), std::string::npos) << what;  // EACCES
        EXPECT_NE(what.find("invalid access to packet"), std::string::npos) << what;  // the verifier's words
    }
}

// A data plane pinned by an xdpd whose map layouts differ (here xdpd_stats,
// whose value grew) is refused with what differs and what to do.
TEST(LoadError, PinnedMapOfAnotherLayoutIsNamed) {
    const std::string dir = "/sys/fs/bpf/xdpd-layout-test-" + std::to_string(getpid());
    std::filesystem::create_directories(dir);
    UniqueFd old(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "xdpd_stats", 4, 1120, XDPD_MAX_IFACES, nullptr));
    ASSERT_TRUE(old) << std::strerror(errno);
    ASSERT_EQ(bpf_obj_pin(old.get(), (dir + "/xdpd_stats").c_str()), 0) << std::strerror(errno);
    try {
        bpf::Pipeline::load_pinned({}, dir);
        ADD_FAILURE() << "loaded over a map of another layout";
    } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(dir + "/xdpd_stats was made by another xdpd version"), std::string::npos) << what;
        EXPECT_NE(what.find("value 1120 B"), std::string::npos) << what;
        EXPECT_NE(what.find(fmt::format("value {} B", sizeof(xdpd_if_stats))), std::string::npos) << what;
        EXPECT_NE(what.find("`xdpd detach` removes it"), std::string::npos) << what;
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xdpd::test
