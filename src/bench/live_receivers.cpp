#include "bench/live_receivers.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "baseline.skel.h"
#include "bpf/map.hpp"
#include "lab/lab_config.hpp"
#include "util/error.hpp"
#include "xdpd/abi.h"

namespace xdpd::bench {

uint64_t veth_xdp_drops(const LiveTopology& t) {
    uint64_t n = 0;
    for (const auto& [name, v] : ethtool_stats(t.rx(), t.rx_if()))
        if (name.starts_with("rx_queue_") && name.ends_with("_xdp_drops")) n += v;
    return n;
}

struct BareDrop::Skel {
    baseline_bpf* s = nullptr;
    ~Skel() {
        if (s) baseline_bpf__destroy(s);
    }
};

BareDrop::BareDrop(const LiveTopology& t) : t_(t), skel_(std::make_unique<Skel>()) {
    skel_->s = baseline_bpf__open_and_load();
    if (!skel_->s) throw SysError("load bpf/baseline.bpf.c", errno);
    // bpf_link_create resolves the ifindex in the caller's namespace.
    NetnsGuard in(t.rx());
    LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);
    int fd = bpf_link_create(bpf_program__fd(skel_->s->progs.xdp_drop), t.rx_ifindex(), BPF_XDP, &o);
    if (fd < 0) throw SysError(fmt::format("attach xdp_drop to {} in native mode", t.rx_if()), -fd);
    link_ = UniqueFd(fd);
}

BareDrop::~BareDrop() = default;  // closing the link detaches the program

std::string live_xdpd_config(const std::string& ifname, const std::string& socket, const std::string& bpffs,
                             XdpdSetup setup) {
    std::string c = lab::lab_config(socket, bpffs);
    auto replace = [&c](const std::string& from, const std::string& to) {
        auto at = c.find(from);
        if (at == std::string::npos) throw std::logic_error("lab_config() has no '" + from + "'");
        c.replace(at, from.size(), to);
    };
    replace("name: srv0", "name: " + ifname);
    replace("mode: auto", "mode: native");
    if (setup == XdpdSetup::steer)
        replace("  rules:\n", "  rules:\n    - id: xsk-flood\n      action: steer\n      proto: udp\n");
    if (setup == XdpdSetup::ban) c += "shield:\n  bans:\n    - prefix: 10.77.0.3/32\n      reason: xdpd-livebench flood\n";
    return c;
}

Xdpd::Xdpd(const LiveTopology& t, const std::string& bin, XdpdSetup setup) : ban_(setup == XdpdSetup::ban) {
    scratch_.emplace(bin, t.rx().name(), lab::DaemonPaths::for_name(t.rx().name()));
    const auto& p = scratch_->paths();
    std::ofstream(p.config) << live_xdpd_config(t.rx_if(), p.socket, p.bpffs, setup);
    daemon_.emplace(bin, t.rx().name(), p);
    // The attach mode, as `xdpd status` reports it.
    for (int tries = 0; tries < 30 && mode_.starts_with("?"); ++tries) {
        auto st = daemon_->call({{"cmd", "status"}});
        for (const auto& i : st["interfaces"])
            mode_ = i.contains("mode") ? i["mode"].get<std::string>() : "? (" + i.value("error", "no mode") + ")";
        if (mode_.starts_with("?")) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

Xdpd::~Xdpd() {
    daemon_.reset();   // stops the daemon (on_exit: detach)
    scratch_.reset();  // removes whatever it left pinned
}

uint32_t Xdpd::slot() {
    auto st = daemon_->call({{"cmd", "status"}});
    for (const auto& i : st.at("interfaces"))
        if (i.contains("slot")) return i["slot"].get<uint32_t>();
    throw std::runtime_error("xdpd status shows no interface slot: " + st.dump());
}

uint64_t Xdpd::dropped() {
    auto s = daemon_->call({{"cmd", "stats"}});
    uint64_t n = 0;
    for (const auto& i : s.at("interfaces"))
        n += i.at("reasons").at(ban_ ? "banned" : "fw_deny").at("packets").get<uint64_t>();
    return n;
}

std::string Xdpd::counter() const {
    return ban_ ? "xdpd stats, reason banned" : "xdpd stats, reason fw_deny";
}

XdpdCapture::XdpdCapture(const LiveTopology& t, const std::string& bin) : xdpd_(t, bin, XdpdSetup::fw) {
    const auto& p = xdpd_.paths();
    capture_.emplace(net::Process::spawn(nullptr, {bin, "--netns", t.rx().name(), "--socket", p.socket, "--bpffs",
                                                   p.bpffs, "capture", "-w", "/dev/null", "-q"}));
    // Running once the data plane says so.
    for (int i = 0; i < 100; ++i) {
        if (xdpd_.daemon().call({{"cmd", "status"}})["observe"]["capture"].value("active", false)) return;
        if (!capture_->running())
            throw std::runtime_error("xdpd capture ended at once: " + capture_->err());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("xdpd capture did not switch capturing on within 5 s: " + capture_->err());
}

XdpdCapture::~XdpdCapture() {
    if (capture_) {
        capture_->kill(SIGINT);
        capture_->wait(std::chrono::seconds(5));
    }
}

std::string XdpdCapture::counter() const {
    uint64_t sent = 0, lost = 0;
    try {
        bpf::MapRef m = bpf::MapRef::open_pinned(xdpd_.paths().bpffs + "/xdpd_observe_cpu", "xdpd_observe_cpu");
        for (const auto& v : bpf::PerCpuMap<__u32, xdpd_observe_cpu>(m).lookup_all(0)) {
            sent += v.capture_sent;
            lost += v.capture_lost;
        }
    } catch (const std::exception&) {
    }
    return fmt::format("{}; capture so far: {} written, {} lost (perf buffer full)", xdpd_.counter(), sent, lost);
}

Nft::Nft(const LiveTopology& t, NftHook hook)
    : hook_(hook), table_(t.rx(), hook, "xdpd_livebench", t.rx_if()) {}

std::string Nft::where() const {
    return hook_ == NftHook::netdev_ingress ? "nft netdev ingress (skb)" : "nft inet prerouting (skb)";
}

}  // namespace xdpd::bench
