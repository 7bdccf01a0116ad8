#include "support/bpf_fixture.hpp"

#include "stats/names.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "util/error.hpp"

namespace xdpd::test {

void PipelineFixture::load(bpf::PipelineConfig cfg) {
    installer_.reset();
    pipeline_ = std::make_unique<bpf::Pipeline>(bpf::Pipeline::load(cfg));
    maps_ = fw::FirewallMaps::from([this](const std::string& n) { return pipeline_->map(n); });
    installer_ = std::make_unique<fw::Installer>(maps_);
}

int PipelineFixture::try_run(const Bytes& pkt, __u32 ifindex, __u32* action, Bytes* out_pkt) {
    // Not bpf::test_run(): when it passes a context (ingress_ifindex set) it
    // leaves xdp_md.data_end at 0, and since Linux 6.x the kernel takes
    // data_end as the size of the linear part of the test packet: the program
    // then sees an empty linear buffer (the whole frame in fragments) and
    // reports TRUNC_ETH. data_end must be the frame length.
    Bytes out(pkt.size() + 256);
    xdp_md ctx{};
    ctx.ingress_ifindex = ifindex;
    ctx.data_end = __u32(pkt.size());
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = __u32(pkt.size()), .data_size_out = __u32(out.size()));
    if (ifindex) {
        o.ctx_in = &ctx;
        o.ctx_size_in = sizeof ctx;
    }
    if (bpf_prog_test_run_opts(pipeline_->prog_fd(), &o) != 0) return errno;
    if (action) *action = o.retval;
    if (out_pkt) {
        out.resize(o.data_size_out);
        *out_pkt = std::move(out);
    }
    return 0;
}

bpf::TestRunResult PipelineFixture::run(const Bytes& pkt, __u32 ifindex) {
    bpf::TestRunResult r;
    int err = try_run(pkt, ifindex, &r.action, &r.packet);
    if (err) throw SysError("BPF_PROG_TEST_RUN", err);
    return r;
}

Observation PipelineFixture::observe(const Bytes& pkt, __u32 ifindex) {
    Observation ob;
    const xdpd_if_stats before = stats();
    __u32 action = ~0u;
    int err = try_run(pkt, ifindex, &action);
    if (err) {
        ADD_FAILURE() << "BPF_PROG_TEST_RUN failed: errno " << err;
        return ob;
    }
    const xdpd_if_stats after = stats();
    ob.action = action;
    ob.ok = true;
    auto one = [&](const char* what, const xdpd_counter* b, const xdpd_counter* a, int n) {
        int hit = -1;
        for (int i = 0; i < n; ++i) {
            __u64 dp = a[i].packets - b[i].packets, db = a[i].bytes - b[i].bytes;
            if (dp == 0 && db == 0) continue;
            if (dp != 1 || db != pkt.size() || hit >= 0) {
                ADD_FAILURE() << what << " counter " << i << " moved by " << dp << " packets, " << db
                              << " bytes (frame of " << pkt.size() << " bytes, other hit " << hit
                              << ")";
                ob.ok = false;
            }
            hit = i;
        }
        if (hit < 0) {
            ADD_FAILURE() << "no " << what << " counter moved";
            ob.ok = false;
        }
        return hit;
    };
    int act = one("action", before.action, after.action, XDPD_ACT_MAX);
    // Reasons are counted by verdict: the slot that moved names both.
    const int rv = one("reason", &before.reason[0][0], &after.reason[0][0], XDPD_R_MAX * XDPD_VERDICTS);
    ob.reason = rv < 0 ? rv : rv / XDPD_VERDICTS;
    if (rv >= 0 && rv % XDPD_VERDICTS != int(XDPD_VERDICT_SLOT(action))) {
        ADD_FAILURE() << "reason " << ob.reason << " counted under verdict slot " << rv % XDPD_VERDICTS
                      << ", the packet's verdict is " << action;
        ob.ok = false;
    }
    ob.l3 = one("l3", before.l3, after.l3, XDPD_L3_MAX);
    ob.l4 = one("l4", before.l4, after.l4, XDPD_L4_MAX);
    if (act != int(action)) {
        ADD_FAILURE() << "verdict " << action << " but action counter " << act << " moved";
        ob.ok = false;
    }
    return ob;
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
        add(&sum.reason[0][0], &s.reason[0][0], XDPD_R_MAX * XDPD_VERDICTS);
        add(sum.l3, s.l3, XDPD_L3_MAX);
        add(sum.l4, s.l4, XDPD_L4_MAX);
    }
    return sum;
}

xdpd_counter PipelineFixture::rule_slot_counter(__u32 slot) const {
    bpf::PerCpuMap<__u32, xdpd_counter> pc(maps_.rule_stats);
    xdpd_counter sum{};
    for (const auto& c : pc.lookup_all(slot)) {
        sum.packets += c.packets;
        sum.bytes += c.bytes;
    }
    return sum;
}

namespace {
int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }
}  // namespace

TestNetdev::TestNetdev() {
    // Devices left over by killed runs (xdpdtst<pid> whose pid is gone).
    for (const auto& e : std::filesystem::directory_iterator("/sys/class/net")) {
        const std::string n = e.path().filename().string();
        if (n.rfind("xdpdtst", 0) != 0 || n.size() == 7) continue;
        const std::string pid = n.substr(7);
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (kill(pid_t(std::stol(pid)), 0) != 0 && errno == ESRCH) sh("ip link del " + n);
    }
    name_ = "xdpdtst" + std::to_string(getpid());
    sh("ip link del " + name_);
    if (sh("ip link add " + name_ + " type dummy") == 0)
        kind_ = "dummy";
    else if (sh("ip link add " + name_ + " type ifb") == 0)
        kind_ = "ifb";
    else if (sh("ip link add " + name_ + " type veth peer name xdpdtp" + std::to_string(getpid())) == 0)
        kind_ = "veth";
    else
        throw std::runtime_error("cannot create a test network device (dummy, ifb or veth)");
    ifindex_ = if_nametoindex(name_.c_str());
    if (!ifindex_) throw SysError("find the test device " + name_, errno);
}

TestNetdev::~TestNetdev() { sh("ip link del " + name_); }

// Names as `xdpd stats` prints them (src/stats/names.hpp: the one table).
const char* reason_name(int r) {
    return r >= 0 && r < XDPD_R_MAX ? stats::kReasonNames[r].data() : "?";
}

const char* l3_name(int l3) { return l3 >= 0 && l3 < XDPD_L3_MAX ? stats::kL3Names[l3].data() : "?"; }

const char* l4_name(int l4) { return l4 >= 0 && l4 < XDPD_L4_MAX ? stats::kL4Names[l4].data() : "?"; }

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
