#include "bench/live_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <tuple>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "bench/live_generator.hpp"
#include "bench/live_receivers.hpp"
#include "bench/live_sockets.hpp"
#include "bench/measure.hpp"
#include "net/lab_topology.hpp"
#include "pkt/packet_builder.hpp"

namespace xdpd::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Known {
    const char* name;
    LiveKind kind;
    const char* help;
};
constexpr Known kKnown[] = {
    {"drop", LiveKind::drop, "baseline: native XDP program that only returns XDP_DROP"},
    {"xdpd-fw", LiveKind::xdpd_fw, "the daemon with the lab's config: firewall rule block-attacker denies"},
    {"xdpd-ban", LiveKind::xdpd_ban, "the same plus a shield ban of 10.77.0.3/32 (dropped before the firewall)"},
    {"xdpd-capture", LiveKind::xdpd_capture,
     "xdpd-fw while `xdpd capture -w /dev/null` takes every packet (perf buffer): what a running capture costs"},
    {"nft-ingress", LiveKind::nft_ingress, "no XDP; the lab's rules in an nft netdev ingress chain"},
    {"nft-prerouting", LiveKind::nft_prerouting, "no XDP; the lab's rules in an nft inet prerouting chain"},
    {"xsk-rxdrop", LiveKind::xsk_rxdrop,
     "AF_XDP socket (copy mode) fed by the daemon's rule {action: steer, proto: udp}; counts and drops"},
    {"xsk-bare", LiveKind::xsk_bare, "AF_XDP socket fed by a bare redirect-to-XSKMAP program (no xdpd pipeline)"},
    {"af-packet-v3", LiveKind::af_packet_v3, "AF_PACKET socket with a TPACKET_V3 mmap ring (no XDP)"},
    {"recvmmsg", LiveKind::recvmmsg, "UDP socket bound to 10.77.0.1:9, recvmmsg 64 at a time (no XDP)"},
    {"testpmd-af-packet", LiveKind::testpmd_af_packet, "dpdk-testpmd rxonly with the net_af_packet vdev"},
    {"testpmd-af-xdp", LiveKind::testpmd_af_xdp, "dpdk-testpmd rxonly with the net_af_xdp vdev"},
};
constexpr const char* kSocketCases = "drop,xsk-rxdrop,xsk-bare,af-packet-v3,recvmmsg,testpmd-af-packet,testpmd-af-xdp";

// /proc/stat: busy and total seconds of the given CPUs (busy: user, nice,
// system, irq, softirq; not idle, iowait, steal).
std::pair<double, double> cpu_times(const std::vector<int>& cpus) {
    std::ifstream f("/proc/stat");
    static const double hz = double(sysconf(_SC_CLK_TCK));
    double busy = 0, total = 0;
    for (std::string line; std::getline(f, line);) {
        int cpu;
        unsigned long long v[8] = {};
        if (std::sscanf(line.c_str(), "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
            continue;
        if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) continue;
        busy += double(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
        total += double(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]) / hz;
    }
    return {busy, total};
}

void sleep_for(double seconds) {
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < until) {
        throw_if_interrupted();
        std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
    }
    throw_if_interrupted();
}

uint64_t sum_queues(const std::map<std::string, uint64_t>& st, const std::string& prefix, const std::string& suffix) {
    uint64_t n = 0;
    for (const auto& [name, v] : st)
        if (name.starts_with(prefix) && name.ends_with(suffix)) n += v;
    return n;
}

std::unique_ptr<Receiver> make_receiver(const LiveCase& c, const LiveTopology& t, const LiveOptions& o) {
    switch (c.kind) {
        case LiveKind::drop: return std::make_unique<BareDrop>(t);
        case LiveKind::xdpd_fw: return std::make_unique<Xdpd>(t, o.xdpd_binary, XdpdSetup::fw);
        case LiveKind::xdpd_ban: return std::make_unique<Xdpd>(t, o.xdpd_binary, XdpdSetup::ban);
        case LiveKind::xdpd_capture: return std::make_unique<XdpdCapture>(t, o.xdpd_binary);
        case LiveKind::nft_ingress: return std::make_unique<Nft>(t, NftHook::netdev_ingress);
        case LiveKind::nft_prerouting: return std::make_unique<Nft>(t, NftHook::inet_prerouting);
        case LiveKind::xsk_rxdrop: return std::make_unique<XskRx>(t, o.app_cpu_or_default(), o.xdpd_binary);
        case LiveKind::xsk_bare: return std::make_unique<XskRx>(t, o.app_cpu_or_default(), "");
        case LiveKind::af_packet_v3: return std::make_unique<AfPacketV3>(t, o.app_cpu_or_default());
        case LiveKind::recvmmsg: return std::make_unique<Recvmmsg>(t, o.app_cpu_or_default());
        case LiveKind::testpmd_af_packet:
            return std::make_unique<Testpmd>(t, Testpmd::Driver::af_packet, o.gen_cpu, o.app_cpu_or_default());
        case LiveKind::testpmd_af_xdp:
            return std::make_unique<Testpmd>(t, Testpmd::Driver::af_xdp, o.gen_cpu, o.app_cpu_or_default());
    }
    throw std::logic_error("bad LiveKind");
}

class CaseRun {
public:
    CaseRun(const LiveTopology& t, Receiver& r, const FrameGenerator* g, Clock::time_point t0, std::vector<int> cpus)
        : t_(t), r_(r), g_(g), t0_(t0), cpus_(std::move(cpus)) {}

    LiveSample sample() const {
        LiveSample s;
        auto a = Clock::now();
        std::tie(s.cpu_busy_s, s.cpu_total_s) = cpu_times(cpus_);
        s.app_cpu_s = r_.app_cpu_seconds();
        s.napi_cpu_s = t_.napi_cpu_seconds();
        s.sent = g_ ? g_->sent() : 0;
        auto tx = ethtool_stats(t_.tx(), t_.tx_if());
        s.dropped = r_.dropped();
        s.socket_drops = r_.socket_drops();
        auto b = Clock::now();
        s.xmit = sum_queues(tx, "tx_queue_", "_xdp_xmit");
        s.xmit_errors = sum_queues(tx, "tx_queue_", "_xdp_xmit_errors");
        s.xdp_drops = veth_xdp_drops(t_);
        s.t = std::chrono::duration<double>(a - t0_).count() + std::chrono::duration<double>(b - a).count() / 2;
        s.read_ms = std::chrono::duration<double, std::milli>(b - a).count();
        return s;
    }
    void set_generator(const FrameGenerator* g) { g_ = g; }

private:
    const LiveTopology& t_;
    Receiver& r_;
    const FrameGenerator* g_;
    Clock::time_point t0_;
    std::vector<int> cpus_;
};

void run_one(const LiveTopology& t, const std::vector<uint8_t>& frame, const LiveOptions& o, LiveResult& res) {
    auto t0 = Clock::now();
    auto receiver = make_receiver(res.c, t, o);
    res.where = receiver->where();
    res.counter = receiver->counter();
    res.socket = receiver->is_socket();
    res.ncpus = int(o.receive_cpus().size());
    t.pin_napi();  // a new XDP program may have re-created the NAPI thread
    CaseRun run(t, *receiver, nullptr, t0, o.receive_cpus());
    res.before = run.sample();
    {
        FrameGenerator gen(t.tx(), t.tx_ifindex(), frame, o.gen_cpu, o.rt, o.gen_procs);
        run.set_generator(&gen);
        sleep_for(o.warmup);
        res.start = run.sample();
        sleep_for(o.seconds);
        res.end = run.sample();
        gen.stop();
        uint64_t sent = gen.sent();
        run.set_generator(nullptr);
        sleep_for(0.3);  // the receiver empties its ring
        res.after = run.sample();
        res.after.sent = sent;
    }
    res.counter = receiver->counter();  // again: some tell what happened during the run
    res.before.sent = 0;
}

std::string describe_frame(size_t len) {
    return fmt::format("UDP/IPv4 10.77.0.3:40000 -> 10.77.0.1:9, {} B frames (the lab attacker's flood)", len);
}

}  // namespace

std::vector<LiveCase> parse_live_cases(const std::string& list) {
    std::string l = list == "default"   ? "drop,xdpd-fw,xdpd-ban,nft-ingress,nft-prerouting"
                    : list == "sockets" ? kSocketCases
                                        : list;
    std::vector<LiveCase> out;
    std::istringstream in(l);
    for (std::string name; std::getline(in, name, ',');) {
        if (name.empty()) continue;
        bool found = false;
        for (const auto& k : kKnown)
            if (name == k.name) {
                out.push_back({name, k.kind});
                found = true;
            }
        if (!found) throw std::invalid_argument("unknown case '" + name + "' (see --help)");
    }
    if (out.empty()) throw std::invalid_argument("no cases");
    return out;
}

std::string live_case_help() {
    std::string s;
    for (const auto& k : kKnown) s += fmt::format("  {:<15} {}\n", k.name, k.help);
    return s;
}

std::vector<int> LiveOptions::receive_cpus() const {
    std::vector<int> c{rx_cpu >= 0 ? rx_cpu : gen_cpu};
    if (app_cpu_or_default() >= 0 && app_cpu_or_default() != c[0]) c.push_back(app_cpu_or_default());
    return c;
}

double LiveResult::ring_full_share() const {
    uint64_t lost = end.xmit_errors - start.xmit_errors, offered = lost + end.xmit - start.xmit;
    return offered ? double(lost) / double(offered) : 0;
}

LiveRun run_live(const std::vector<LiveCase>& cases, const LiveOptions& o, RunInfo info) {
    LiveRun out;
    out.info = std::move(info);
    out.frame = describe_frame(o.frame_len);
    net::Lab::cleanup_orphans("xlb");  // namespaces of crashed earlier runs
    if (o.verbose) std::fprintf(stderr, "livebench: building namespaces and the veth pair\n");
    LiveTopology topo(o.rx_cpu, o.rt);
    out.napi = topo.napi_description();
    auto frame = pkt::PacketBuilder()
                     .eth(topo.tx_mac(), topo.rx_mac())
                     .ipv4("10.77.0.3", "10.77.0.1")
                     .udp(40000, 9)
                     .pad_to(o.frame_len)
                     .build();
    for (const auto& c : cases) {
        LiveResult r;
        r.c = c;
        if (o.verbose) std::fprintf(stderr, "livebench: %s: %.1f s warm-up + %.1f s\n", c.name.c_str(), o.warmup, o.seconds);
        try {
            run_one(topo, frame, o, r);
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            r.status = LiveResult::Status::error;
            r.error = e.what();
            if (o.verbose) std::fprintf(stderr, "livebench: %s failed: %s\n", c.name.c_str(), e.what());
        }
        out.results.push_back(std::move(r));
    }
    return out;
}

}  // namespace xdpd::bench
