// A program the kernel refuses is reported with the verifier's own reason.
#include <gtest/gtest.h>

#include "bpf/load.hpp"
#include "rejected.skel.h"

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

}  // namespace
}  // namespace xdpd::test
