#include "bench/live_sockets.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "steer/xsk_map.hpp"
#include "util/error.hpp"
#include "xsk/port.hpp"
#include "xsk/thread.hpp"
#include "xsk_redirect.skel.h"

namespace xdpd::bench {
namespace {

using namespace std::chrono_literals;

double thread_cpu(clockid_t c) {
    timespec ts{};
    if (clock_gettime(c, &ts)) return -1;
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

}  // namespace

// ---- ThreadReceiver ----------------------------------------------------------

void ThreadReceiver::start(const net::Netns& ns, int cpu, std::string name, std::function<void()> open,
                           std::function<void(const std::atomic<bool>&)> loop) {
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([&, cpu, name, open = std::move(open), loop = std::move(loop)]() mutable {
        try {
            UniqueFd target = ns.open_fd();
            if (::setns(target.get(), CLONE_NEWNET)) throw SysError("setns " + ns.name(), errno);
            if (cpu >= 0) xsk::pin_current_thread(cpu);
            xsk::name_current_thread(name);
            open();
        } catch (...) {
            ready.set_exception(std::current_exception());
            return;
        }
        ready.set_value();
        loop(stop_);
        final_cpu_ = thread_cpu([] {
            clockid_t c;
            pthread_getcpuclockid(pthread_self(), &c);
            return c;
        }());
    });
    if (pthread_getcpuclockid(thread_.native_handle(), &clock_)) clock_ = CLOCK_THREAD_CPUTIME_ID;
    try {
        started.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

void ThreadReceiver::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

ThreadReceiver::~ThreadReceiver() { stop(); }

double ThreadReceiver::app_cpu_seconds() {
    double f = final_cpu_.load();
    if (f >= 0 || !thread_.joinable()) return f < 0 ? 0 : f;
    return thread_cpu(clock_);
}

// ---- XskRx ---------------------------------------------------------------------

struct XskRx::State {
    std::unique_ptr<Xdpd> daemon;  // xsk-rxdrop
    xsk_redirect_bpf* skel = nullptr;  // xsk-bare
    UniqueFd link;
    std::optional<xsk::Umem> umem;
    std::optional<xsk::Port> port;
    std::optional<uint32_t> slot;
    ~State() {
        link.reset();
        if (skel) xsk_redirect_bpf__destroy(skel);
    }
};

XskRx::XskRx(const LiveTopology& t, int app_cpu, const std::string& xdpd_binary) : s_(std::make_unique<State>()) {
    const bool bare = xdpd_binary.empty();
    if (!bare) {
        s_->daemon = std::make_unique<Xdpd>(t, xdpd_binary, XdpdSetup::steer);
        s_->slot = s_->daemon->slot();
    } else {
        s_->skel = xsk_redirect_bpf__open_and_load();
        if (!s_->skel) throw SysError("load tests/data/xsk_redirect.bpf.c", errno);
        NetnsGuard in(t.rx());
        LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);
        int fd = bpf_link_create(bpf_program__fd(s_->skel->progs.xsk_redirect), t.rx_ifindex(), BPF_XDP, &o);
        if (fd < 0) throw SysError(fmt::format("attach xsk_redirect to {} in native mode", t.rx_if()), -fd);
        s_->link = UniqueFd(fd);
    }
    const std::string ifname = t.rx_if();
    start(
        t.rx(), app_cpu, "xsk-rxdrop",
        [this, ifname] {
            // 32 MiB, 8192-entry RX and fill rings: room for the milliseconds
            // the thread waits for the CPU it shares with the NAPI thread
            // (the AF_PACKET ring below is 16 MiB).
            s_->umem.emplace(xsk::UmemConfig{.frame_size = 2048, .frame_count = 16384});
            xsk::PortOptions po;
            po.socket.rx_size = 8192;
            po.socket.fill_size = 8192;
            po.socket.tx_size = 0;  // receive only
            po.socket.comp_size = 2048;
            s_->port.emplace(*s_->umem, ifname, 0, po);
        },
        [this](const std::atomic<bool>& stop) {
            auto& port = *s_->port;
            uint64_t n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                uint32_t got = port.rx_batch([](const xsk::Packet&) {}, 256);
                if (got == 0) {
                    port.socket().wake_rx(100);
                    continue;
                }
                n += got;
                received_.store(n, std::memory_order_relaxed);
            }
        });
    const int fd = s_->port->socket().fd();
    if (!bare) {
        steer::XskMap(s_->daemon->paths().bpffs).insert(*s_->slot, 0, fd);
    } else {
        uint32_t key = 0;
        if (bpf_map_update_elem(bpf_map__fd(s_->skel->maps.xsks), &key, &fd, 0))
            throw SysError("put the AF_XDP socket into xsks[0]", errno);
    }
    where_ = fmt::format("AF_XDP {} mode, {}", xsk::to_string(s_->port->socket().mode()),
                         bare ? "bare redirect program" : s_->daemon->where() + " + steer rule");
}

XskRx::~XskRx() {
    stop();
    s_.reset();
}

uint64_t XskRx::socket_drops() {
    auto st = s_->port->socket().statistics();
    return st.rx_dropped + st.rx_ring_full;
}

std::string XskRx::counter() const {
    return "RX descriptors read; drops: XDP_STATISTICS rx_dropped + rx_ring_full";
}

// ---- AfPacketV3 ------------------------------------------------------------------

AfPacketV3::AfPacketV3(const LiveTopology& t, int app_cpu) {
    const std::string ifname = t.rx_if();
    start(
        t.rx(), app_cpu, "afp-rxdrop",
        [this, ifname] {
            fd_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
            if (!fd_) throw SysError("socket(AF_PACKET)", errno);
            int v = TPACKET_V3;
            if (setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &v, sizeof v))
                throw SysError("PACKET_VERSION TPACKET_V3", errno);
            int one = 1;  // only what comes in (not the stack's ICMP replies going out)
            if (setsockopt(fd_.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one))
                throw SysError("PACKET_IGNORE_OUTGOING", errno);
            tpacket_req3 req{};
            block_size_ = 1u << 20;
            blocks_ = 16;
            req.tp_block_size = block_size_;
            req.tp_block_nr = blocks_;
            req.tp_frame_size = 2048;
            req.tp_frame_nr = block_size_ / 2048 * blocks_;
            req.tp_retire_blk_tov = 10;  // ms: a block goes to userspace when full or after 10 ms
            if (setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req))
                throw SysError("PACKET_RX_RING", errno);
            ring_size_ = size_t(block_size_) * blocks_;
            ring_ = ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd_.get(), 0);
            if (ring_ == MAP_FAILED) {
                ring_ = nullptr;
                throw SysError("mmap the TPACKET_V3 ring", errno);
            }
            sockaddr_ll ll{};
            ll.sll_family = AF_PACKET;
            ll.sll_protocol = htons(ETH_P_ALL);
            ll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
            if (!ll.sll_ifindex) throw SysError("if_nametoindex " + ifname, errno);
            if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll))
                throw SysError("bind AF_PACKET to " + ifname, errno);
        },
        [this](const std::atomic<bool>& stop) {
            uint32_t cur = 0;
            uint64_t n = 0;
            auto* base = static_cast<uint8_t*>(ring_);
            while (!stop.load(std::memory_order_relaxed)) {
                auto* b = reinterpret_cast<tpacket_block_desc*>(base + size_t(cur) * block_size_);
                if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
                    pollfd p{fd_.get(), POLLIN | POLLERR, 0};
                    ::poll(&p, 1, 100);
                    continue;
                }
                n += b->hdr.bh1.num_pkts;
                received_.store(n, std::memory_order_relaxed);
                __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
                cur = (cur + 1) % blocks_;
            }
        });
}

AfPacketV3::~AfPacketV3() {
    stop();
    if (ring_) ::munmap(ring_, ring_size_);
}

uint64_t AfPacketV3::socket_drops() {
    std::lock_guard lock(stats_mu_);
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) drops_ += st.tp_drops;
    return drops_;
}

std::string AfPacketV3::where() const {
    return fmt::format("AF_PACKET TPACKET_V3 ring, {} blocks of {} KiB (skb path)", blocks_, block_size_ / 1024);
}

// ---- Recvmmsg ----------------------------------------------------------------------

Recvmmsg::Recvmmsg(const LiveTopology& t, int app_cpu) {
    start(
        t.rx(), app_cpu, "udp-rxdrop",
        [this] {
            fd_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
            if (!fd_) throw SysError("socket(AF_INET, SOCK_DGRAM)", errno);
            int buf = 4 << 20;  // like the other rings: room for bursts, not a bottleneck of its own
            if (setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf))
                throw SysError("SO_RCVBUFFORCE", errno);
            timeval tv{0, 100000};
            setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(9);
            inet_pton(AF_INET, "10.77.0.1", &a.sin_addr);
            if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a)) throw SysError("bind 10.77.0.1:9", errno);
        },
        [this](const std::atomic<bool>& stop) {
            constexpr int kBatch = 64;
            std::vector<uint8_t> bufs(size_t(kBatch) * 2048);
            std::vector<iovec> iov(kBatch);
            std::vector<mmsghdr> msgs(kBatch);
            for (int i = 0; i < kBatch; ++i) {
                iov[i] = {bufs.data() + size_t(i) * 2048, 2048};
                msgs[i] = {};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            uint64_t n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                int got = ::recvmmsg(fd_.get(), msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
                if (got <= 0) continue;  // timeout (SO_RCVTIMEO) or EINTR
                n += uint64_t(got);
                received_.store(n, std::memory_order_relaxed);
            }
        });
}

Recvmmsg::~Recvmmsg() { stop(); }

uint64_t Recvmmsg::socket_drops() {
    uint32_t mi[SK_MEMINFO_VARS]{};
    socklen_t len = sizeof mi;
    if (getsockopt(fd_.get(), SOL_SOCKET, SO_MEMINFO, mi, &len)) return 0;
    return mi[SK_MEMINFO_DROPS];
}

std::string Recvmmsg::where() const { return "UDP socket 10.77.0.1:9, recvmmsg x64, 4 MiB rcvbuf (skb path)"; }

// ---- Testpmd -------------------------------------------------------------------------

Testpmd::Testpmd(const LiveTopology& t, Driver d, int main_cpu, int app_cpu) : driver_(d) {
    if (main_cpu < 0 || app_cpu < 0 || main_cpu == app_cpu)
        throw std::invalid_argument("testpmd needs two distinct CPUs: main lcore and forwarding lcore");
    prefix_ = t.rx().name();
    socket_path_ = "/var/run/dpdk/" + prefix_ + "/dpdk_telemetry.v2";
    std::string vdev = d == Driver::af_packet
                           ? fmt::format("net_af_packet0,iface={},qpairs=1,blocksz=4096,framesz=2048,framecnt=4096",
                                         t.rx_if())
                           : fmt::format("net_af_xdp0,iface={},start_queue=0,queue_count=1", t.rx_if());
    std::vector<std::string> argv = {"ip", "netns", "exec", t.rx().name(), "dpdk-testpmd",
                                     "--no-pci", "--vdev=" + vdev,
                                     fmt::format("-l{},{}", main_cpu, app_cpu),
                                     fmt::format("--main-lcore={}", main_cpu),
                                     "--no-huge", "-m", "512", "--file-prefix=" + prefix_,
                                     "--", "--forward-mode=rxonly", "--auto-start", "--stats-period=1",
                                     "--nb-cores=1", "--rxq=1", "--txq=1", "--rxd=2048", "--txd=512",
                                     "--total-num-mbufs=16384"};
    proc_.emplace(net::Process::spawn(nullptr, argv));
    auto fail = [&](const std::string& why) {
        proc_->stop(std::chrono::milliseconds(1000));
        std::string out = proc_->out() + proc_->err(), tail;
        // The lines that say what went wrong (EAL/driver errors), not the banner.
        std::istringstream in(out);
        for (std::string line; std::getline(in, line);)
            if (line.find("rror") != std::string::npos || line.find("ail") != std::string::npos ||
                line.find("annot") != std::string::npos || line.find("nsupported") != std::string::npos)
                tail += (tail.empty() ? "" : " | ") + line;
        if (tail.empty()) tail = out.size() > 600 ? out.substr(out.size() - 600) : out;
        throw std::runtime_error("dpdk-testpmd " + why + ": " + tail);
    };
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
        if (!proc_->running()) fail(fmt::format("exited with code {}", proc_->exit_code().value_or(-1)));
        if (std::chrono::steady_clock::now() > deadline) fail("did not start within 20 s");
        if (!tel_ && ::access(socket_path_.c_str(), F_OK) == 0) {
            UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_path_.c_str());
            if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
                char buf[4096];
                if (::recv(s.get(), buf, sizeof buf, 0) > 0) tel_ = std::move(s);  // the greeting
            }
        }
        // Started: forwarding runs once testpmd printed its first stats.
        if (tel_ && proc_->out().find("Port statistics") != std::string::npos) break;
        std::this_thread::sleep_for(100ms);
    }
    where_ = d == Driver::af_packet ? "DPDK 22.11 testpmd rxonly, net_af_packet (TPACKET_V2 ring, busy poll)"
                                    : "DPDK 22.11 testpmd rxonly, net_af_xdp (its own XDP program, busy poll)";
    if (d == Driver::af_xdp && proc_->out().find("zero copy") != std::string::npos) where_ += ", zero copy";
}

Testpmd::~Testpmd() {
    tel_.reset();
    if (proc_) proc_->stop(std::chrono::milliseconds(2000));
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + prefix_, ec);
}

nlohmann::json Testpmd::query(const std::string& cmd) {
    if (::send(tel_.get(), cmd.data(), cmd.size(), 0) < 0) throw SysError("telemetry send " + cmd, errno);
    std::string buf(1 << 16, '\0');
    ssize_t n = ::recv(tel_.get(), buf.data(), buf.size(), 0);
    if (n <= 0) throw SysError("telemetry recv " + cmd, n < 0 ? errno : ECONNRESET);
    buf.resize(size_t(n));
    return nlohmann::json::parse(buf);
}

nlohmann::json Testpmd::port_stats() { return query("/ethdev/stats,0").at("/ethdev/stats"); }

uint64_t Testpmd::dropped() { return port_stats().at("ipackets").get<uint64_t>(); }

uint64_t Testpmd::socket_drops() { return port_stats().at("imissed").get<uint64_t>(); }

double Testpmd::app_cpu_seconds() {
    // Every thread of the process (lcores, interrupt and telemetry threads):
    // schedstat's time on CPU, in ns.
    double total = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", proc_->pid()), ec)) {
        std::ifstream st(e.path() / "schedstat");
        unsigned long long ns = 0;
        if (st >> ns) total += double(ns) / 1e9;
    }
    return total;
}

}  // namespace xdpd::bench
