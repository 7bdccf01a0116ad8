// The AF_XDP library (src/xsk) on real veth pairs: UMEM, rings, sockets,
// ports, shared UMEM, multi-buffer, statistics. Each test builds its own
// XskLab (two namespaces, a veth pair, tests/data/xsk_redirect.bpf.c attached
// natively on the dut end) and sends with ordinary kernel UDP sockets.
// Needs root.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "pkt/packet_builder.hpp"
#include "util/error.hpp"
#include "xsk/port.hpp"
#include "xsk/socket.hpp"
#include "xsk/thread.hpp"
#include "xsk/umem.hpp"
#include "xsk_lab.hpp"

namespace xdpd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Xsk : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(geteuid(), 0u) << "AF_XDP tests run as root"; }
};

// Receives on port until want packets arrived or timeout passed, then keeps
// listening for linger (to catch extra packets). Returns the frames.
std::vector<Bytes> collect(xsk::Port& port, size_t want, std::chrono::milliseconds timeout,
                           std::chrono::milliseconds linger = 100ms) {
    std::vector<Bytes> got;
    auto deadline = Clock::now() + timeout;
    std::optional<Clock::time_point> until;
    while (Clock::now() < (until ? *until : deadline)) {
        port.rx_batch([&](const xsk::Packet& p) { got.push_back(p.bytes()); });
        if (!until && got.size() >= want) until = Clock::now() + linger;
        port.socket().wake_rx(5);
    }
    return got;
}

// Payloads of frames, in order, checking each is UDP to dport.
std::vector<Bytes> payloads_of(const std::vector<Bytes>& frames, uint16_t dport, int family) {
    std::vector<Bytes> out;
    for (const Bytes& f : frames) {
        UdpView v = parse_udp(f);
        EXPECT_EQ(v.family, family);
        EXPECT_EQ(v.dport, dport);
        out.push_back(v.payload);
    }
    return out;
}

xsk::Port make_port(const XskLab& lab, xsk::Umem& umem, uint32_t queue, xsk::PortOptions o = {}) {
    return lab.in_dut([&] { return xsk::Port(umem, lab.dut_if(), queue, o); });
}

// 1. Datagrams from a kernel UDP socket arrive intact, in order, exactly once
// (IPv4 and IPv6); other traffic (ping, other ports) still reaches the stack.
TEST_F(Xsk, KernelUdpDatagramsArriveIntactInOrderAndExactlyOnce) {
    XskLab lab({.port = 9000});
    xsk::Umem umem({.frame_count = 1024});
    xsk::Port port = make_port(lab, umem, 0);
    lab.insert(0, port.socket().fd());
    EXPECT_EQ(port.socket().mode(), xsk::Mode::copy);

    for (auto [addr, family] : {std::pair{XskLab::kDutIp4, 4}, std::pair{XskLab::kDutIp6, 6}}) {
        auto sent = make_payloads("v" + std::to_string(family), 300);
        send_udp(lab, addr, 9000, sent);
        auto got = payloads_of(collect(port, sent.size(), 5s), 9000, family);
        ASSERT_EQ(got.size(), sent.size()) << "IPv" << family;
        for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(got[i], sent[i]) << "IPv" << family << " datagram " << i;
    }
    // UDP to another port is not redirected: nothing arrives on the socket.
    send_udp(lab, XskLab::kDutIp4, 9001, make_payloads("other", 5));
    EXPECT_TRUE(collect(port, 1, 200ms, 0ms).empty());
    xsk::Statistics st = port.socket().statistics();
    EXPECT_EQ(st.rx_dropped, 0u);
    EXPECT_EQ(st.rx_ring_full, 0u);
    EXPECT_EQ(st.rx_invalid_descs, 0u);
}

// 2. Two queues, one socket each, each served by its own pinned thread. XPS
// on the peer sends the flow of CPU i on TX queue i, which a veth delivers
// on RX queue i: each socket sees exactly the flow of its queue.
TEST_F(Xsk, ThreadPerQueuePinnedEachSocketSeesOnlyItsQueue) {
    ASSERT_GE(xsk::allowed_cpu_count(), 2) << "needs two CPUs for one pinned thread per queue";
    XskLab lab({.queues = 2});
    lab.steer_tx_queue_by_cpu();
    constexpr int kPerQueue = 200;
    std::vector<std::unique_ptr<xsk::Umem>> umems;
    std::vector<xsk::Port> ports;
    for (uint32_t q = 0; q < 2; ++q) {
        umems.push_back(std::make_unique<xsk::Umem>(xsk::UmemConfig{.frame_count = 512}));
        ports.push_back(make_port(lab, *umems.back(), q));
        lab.insert(q, ports.back().socket().fd());
    }

    std::vector<std::vector<Bytes>> got(2);
    std::vector<int> cpu_seen(2, -1);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int q = 0; q < 2; ++q) {
        workers.emplace_back([&, q] {
            xsk::pin_current_thread(q);
            xsk::name_current_thread("xsk-q" + std::to_string(q));
            cpu_seen[q] = xsk::current_cpu();
            while (!stop.load()) {
                ports[q].rx_batch([&](const xsk::Packet& p) { got[q].push_back(p.bytes()); });
                ports[q].socket().wake_rx(5);
            }
        });
    }
    std::vector<std::vector<Bytes>> sent = {make_payloads("q0", kPerQueue), make_payloads("q1", kPerQueue)};
    {
        std::thread s1([&] { send_udp(lab, XskLab::kDutIp4, 7001, sent[1], 1); });
        send_udp(lab, XskLab::kDutIp4, 7000, sent[0], 0);
        s1.join();
    }
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline && got[0].size() + got[1].size() < 2 * kPerQueue) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(100ms);
    stop = true;
    for (auto& w : workers) w.join();

    EXPECT_EQ(got[0].size() + got[1].size(), size_t(2 * kPerQueue));
    for (int q = 0; q < 2; ++q) {
        EXPECT_EQ(cpu_seen[q], q) << "worker of queue " << q;
        auto payloads = payloads_of(got[q], uint16_t(7000 + q), 4);
        ASSERT_EQ(payloads.size(), sent[q].size()) << "queue " << q;
        for (size_t i = 0; i < payloads.size(); ++i) ASSERT_EQ(payloads[i], sent[q][i]) << "queue " << q << " #" << i;
    }
}

// 3. veth has no AF_XDP zero-copy: asking for it binds in copy mode and says why.
TEST_F(Xsk, ZeroCopyRequestedOnVethFallsBackToCopyAndSaysWhy) {
    XskLab lab;
    xsk::Umem umem({.frame_count = 256});
    xsk::Port port = make_port(lab, umem, 0, {.socket = {.zero_copy = true}});
    EXPECT_EQ(port.socket().mode(), xsk::Mode::copy);
    EXPECT_NE(port.socket().mode_note().find("zero-copy refused"), std::string::npos) << port.socket().mode_note();
    EXPECT_EQ(port.socket().bind_attempts(), 2) << "one zero-copy bind, one copy bind";
    lab.insert(0, port.socket().fd());
    auto sent = make_payloads("zc", 20);
    send_udp(lab, XskLab::kDutIp4, 9000, sent);
    EXPECT_EQ(payloads_of(collect(port, sent.size(), 3s), 9000, 4), sent);
}

// /proc/sys/vm/nr_hugepages, restored by the destructor.
class HugePagesSetting {
public:
    HugePagesSetting() : original_(read()) {}
    ~HugePagesSetting() { write(original_); }
    static long read() {
        std::ifstream in("/proc/sys/vm/nr_hugepages");
        long n = -1;
        in >> n;
        return n;
    }
    static void write(long n) { std::ofstream("/proc/sys/vm/nr_hugepages") << n << "\n"; }
    static long meminfo(const std::string& key) {
        std::ifstream in("/proc/meminfo");
        std::string k;
        long v = 0;
        while (in >> k) {
            if (k == key + ":" && in >> v) return v;
            in.ignore(1 << 10, '\n');
        }
        return -1;
    }

private:
    long original_;
};

// 4. Hugepages asked for with none free: normal pages, reported; with two
// reserved: the UMEM is on huge pages and registers and receives.
TEST_F(Xsk, HugePagesFallBackWhenNoneAreFreeAndAreUsedWhenReserved) {
    XskLab lab;
    HugePagesSetting restore;
    long in_use = HugePagesSetting::meminfo("HugePages_Total") - HugePagesSetting::meminfo("HugePages_Free");
    HugePagesSetting::write(in_use);  // none free
    ASSERT_EQ(HugePagesSetting::meminfo("HugePages_Free"), 0);
    {
        xsk::Umem umem({.frame_count = 512, .hugepages = true});
        EXPECT_FALSE(umem.huge());
        EXPECT_NE(umem.note().find("huge pages unavailable"), std::string::npos) << umem.note();
        xsk::Port port = make_port(lab, umem, 0);
        lab.insert(0, port.socket().fd());
        auto sent = make_payloads("small", 10);
        send_udp(lab, XskLab::kDutIp4, 9000, sent);
        EXPECT_EQ(payloads_of(collect(port, sent.size(), 3s), 9000, 4), sent);
    }
    HugePagesSetting::write(in_use + 2);
    long free_pages = HugePagesSetting::meminfo("HugePages_Free");
    ASSERT_GE(free_pages, 1) << "the kernel could not reserve a huge page (memory too fragmented?)";
    xsk::Umem umem({.frame_count = 512, .hugepages = true});  // 2 MiB: one huge page
    EXPECT_TRUE(umem.huge()) << umem.note();
    xsk::Port port = make_port(lab, umem, 0);
    lab.insert(0, port.socket().fd());
    auto sent = make_payloads("huge", 10);
    send_udp(lab, XskLab::kDutIp4, 9000, sent);
    EXPECT_EQ(payloads_of(collect(port, sent.size(), 3s), 9000, 4), sent);
}

// 5. With nothing on the fill ring the kernel has nowhere to put packets:
// they are dropped and counted. Frames put on the fill ring (through the raw
// ring API) make traffic flow again.
TEST_F(Xsk, FillRingStarvationDropsAndCountsThenRefillRecovers) {
    XskLab lab;
    xsk::Umem umem({.frame_count = 64});
    xsk::Socket sock = lab.in_dut([&] { return xsk::Socket(umem, lab.dut_if(), 0, {.tx_size = 0}); });
    lab.insert(0, sock.fd());

    send_udp(lab, XskLab::kDutIp4, 9000, make_payloads("starved", 20));
    xsk::Statistics st;
    auto deadline = Clock::now() + 3s;
    do {
        std::this_thread::sleep_for(10ms);
        st = sock.statistics();
    } while (st.rx_dropped < 20 && Clock::now() < deadline);
    EXPECT_EQ(st.rx_dropped, 20u);
    EXPECT_GE(st.rx_fill_ring_empty_descs, 20u);
    uint32_t idx = 0;
    EXPECT_EQ(sock.rx().peek(64, &idx), 0u) << "nothing can have been received";

    xsk::FillRing& fq = sock.fill();
    ASSERT_EQ(fq.reserve(64, &idx), 64u);
    for (uint32_t i = 0; i < 64; ++i) fq.at(idx + i) = umem.frame_addr(i);
    fq.submit(64);
    auto sent = make_payloads("fed", 20);
    send_udp(lab, XskLab::kDutIp4, 9000, sent);
    std::vector<Bytes> got;
    deadline = Clock::now() + 3s;
    while (got.size() < sent.size() && Clock::now() < deadline) {
        uint32_t n = sock.rx().peek(16, &idx);
        for (uint32_t i = 0; i < n; ++i) {
            const xdp_desc& d = sock.rx().at(idx + i);
            EXPECT_EQ(d.addr % umem.frame_size(), xsk::kXdpPacketHeadroom) << "copy mode data offset in the frame";
            got.push_back(Bytes(umem.data(d.addr), umem.data(d.addr) + d.len));
        }
        sock.rx().release(n);
        if (!n) sock.wake_rx(5);
    }
    EXPECT_EQ(payloads_of(got, 9000, 4), sent);
    EXPECT_EQ(sock.statistics().rx_dropped, 20u) << "no new drops once fed";
}

// 6. A socket closed and another bound at once on the same queue: the bind
// (retried on EBUSY while the old one is torn down) succeeds and traffic
// flows. And a queue that stays busy fails with EBUSY after the retries.
TEST_F(Xsk, RebindAfterCloseWorksAndABusyQueueFailsWithEbusyAfterRetrying) {
    XskLab lab;
    xsk::Umem umem({.frame_count = 256});
    int retried = 0;
    for (int round = 0; round < 5; ++round) {
        xsk::Port port = make_port(lab, umem, 0);
        if (port.socket().bind_attempts() > 1) ++retried;
        lab.insert(0, port.socket().fd());
        auto sent = make_payloads("round" + std::to_string(round), 10);
        send_udp(lab, XskLab::kDutIp4, 9000, sent);
        ASSERT_EQ(payloads_of(collect(port, sent.size(), 3s, 20ms), 9000, 4), sent) << "round " << round;
    }
    RecordProperty("rebinds_that_retried_ebusy", retried);

    xsk::Port holder = make_port(lab, umem, 0);
    xsk::Umem other({.frame_count = 64});
    auto t0 = Clock::now();
    try {
        lab.in_dut([&] { return xsk::Socket(other, lab.dut_if(), 0, {.bind_busy_timeout = 100ms}); });
        ADD_FAILURE() << "a second socket on a held queue should not bind";
    } catch (const SysError& e) {
        EXPECT_EQ(e.code(), EBUSY) << e.what();
        EXPECT_NE(std::string(e.what()).find("still busy after retrying"), std::string::npos) << e.what();
    }
    EXPECT_GE(Clock::now() - t0, 100ms) << "retried for bind_busy_timeout";
}

// 7. Two sockets on two queues share one UMEM, each with its own fill and
// completion ring and its own half of the frames.
TEST_F(Xsk, SharedUmemAcrossTwoQueues) {
    ASSERT_GE(xsk::allowed_cpu_count(), 2);
    XskLab lab({.queues = 2});
    lab.steer_tx_queue_by_cpu();
    xsk::Umem umem({.frame_count = 1024});
    xsk::Port p0 = make_port(lab, umem, 0, {.frame_count = 512});
    xsk::Port p1 = make_port(lab, umem, 1, {.socket = {.shared_umem_with = &p0.socket()}, .first_frame = 512});
    EXPECT_EQ(&p1.socket().umem(), &umem);
    lab.insert(0, p0.socket().fd());
    lab.insert(1, p1.socket().fd());

    std::vector<std::vector<Bytes>> sent = {make_payloads("s0", 100), make_payloads("s1", 100)};
    send_udp(lab, XskLab::kDutIp4, 7000, sent[0], 0);
    send_udp(lab, XskLab::kDutIp4, 7001, sent[1], 1);
    xsk::Port* ports[2] = {&p0, &p1};
    for (int q = 0; q < 2; ++q) {
        std::vector<Bytes> frames;
        bool own_frames = true;
        auto deadline = Clock::now() + 3s;
        while (frames.size() < sent[q].size() && Clock::now() < deadline) {
            ports[q]->rx_batch([&](const xsk::Packet& p) {
                for (const auto& s : p.segments) own_frames = own_frames && ports[q]->frames().owns(s.addr);
                frames.push_back(p.bytes());
            });
            ports[q]->socket().wake_rx(5);
        }
        EXPECT_TRUE(own_frames) << "queue " << q << " received into another port's frames";
        EXPECT_EQ(payloads_of(frames, uint16_t(7000 + q), 4), sent[q]) << "queue " << q;
    }
}

// 8. Frames sent from the AF_XDP socket reach a kernel UDP socket in the
// peer namespace; the completion ring gives every frame back.
TEST_F(Xsk, TransmitReachesKernelSocketAndCompletionsReturnFrames) {
    XskLab lab;
    xsk::Umem umem({.frame_count = 256});
    xsk::Port port = make_port(lab, umem, 0);
    const size_t free_before = port.frames().available();
    UniqueFd rx = peer_udp_socket(lab, XskLab::kPeerIp4, 9100);

    constexpr int kFrames = 100;
    pkt::Mac src, dst;
    std::copy(std::begin(XskLab::kDutMac), std::end(XskLab::kDutMac), src.begin());
    std::copy(std::begin(XskLab::kPeerMac), std::end(XskLab::kPeerMac), dst.begin());
    std::vector<Bytes> frames, payloads;
    for (int i = 0; i < kFrames; ++i) {
        frames.push_back(pkt::PacketBuilder()
                             .eth(src, dst)
                             .ipv4(XskLab::kDutIp4, XskLab::kPeerIp4)
                             .udp(9200, 9100)
                             .payload(20 + i * 13, uint8_t(i))
                             .build());
        payloads.push_back(parse_udp(frames.back()).payload);
    }
    size_t queued = 0;
    auto deadline = Clock::now() + 3s;
    while (queued < frames.size() && Clock::now() < deadline) {
        std::vector<std::span<const uint8_t>> batch;
        for (size_t i = queued; i < frames.size() && batch.size() < 16; ++i) batch.emplace_back(frames[i]);
        queued += port.tx_batch(batch);
    }
    ASSERT_EQ(queued, frames.size());

    std::vector<Bytes> got;
    while (got.size() < payloads.size()) {
        pollfd p{rx.get(), POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) break;
        Bytes buf(2048);
        ssize_t n = recv(rx.get(), buf.data(), buf.size(), 0);
        ASSERT_GT(n, 0);
        buf.resize(size_t(n));
        got.push_back(std::move(buf));
    }
    EXPECT_EQ(got, payloads);

    deadline = Clock::now() + 2s;
    while (port.tx_in_flight() > 0 && Clock::now() < deadline) {
        port.reap_completions();
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(port.tx_in_flight(), 0u);
    EXPECT_EQ(port.frames().available(), free_before) << "every sent frame came back through the completion ring";
    EXPECT_EQ(port.socket().statistics().tx_invalid_descs, 0u);
}

// 9. Jumbo frames with multi-buffer: a 9000-byte IP packet in 4096-byte
// frames arrives as several descriptors chained with XDP_PKT_CONTD.
TEST_F(Xsk, MultiBufferJumboDatagramArrivesInChainedDescriptors) {
    XskLab lab({.mtu = 9000});
    xsk::Umem umem({.frame_size = 4096, .frame_count = 512});
    xsk::Port port = make_port(lab, umem, 0, {.socket = {.multi_buffer = true}});
    EXPECT_TRUE(port.socket().multi_buffer());
    lab.insert(0, port.socket().fd());

    std::vector<Bytes> sent = {make_payloads("jumbo", 1, 8972, 8972)[0], make_payloads("mid", 1, 5000, 5000)[0],
                               make_payloads("small", 1, 100, 100)[0]};
    send_udp(lab, XskLab::kDutIp4, 9000, sent);
    std::vector<Bytes> frames;
    std::vector<size_t> segments;
    auto deadline = Clock::now() + 3s;
    while (frames.size() < sent.size() && Clock::now() < deadline) {
        port.rx_batch([&](const xsk::Packet& p) {
            frames.push_back(p.bytes());
            segments.push_back(p.segments.size());
            EXPECT_EQ(p.length, frames.back().size());
        });
        port.socket().wake_rx(5);
    }
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames[0].size(), 9014u);
    EXPECT_GE(segments[0], 3u) << "9014 bytes in frames of at most 4096 - 256";
    EXPECT_GE(segments[1], 2u);
    EXPECT_EQ(segments[2], 1u);
    EXPECT_EQ(payloads_of(frames, 9000, 4), sent);
    EXPECT_EQ(port.socket().statistics().rx_dropped, 0u);
}

// 9b. And the other way: a jumbo frame sent with multi-buffer goes out as
// chained TX descriptors and reaches a kernel UDP socket whole.
TEST_F(Xsk, MultiBufferJumboFrameIsSentInChainedDescriptors) {
    XskLab lab({.mtu = 9000});
    xsk::Umem umem({.frame_size = 4096, .frame_count = 512});
    xsk::Port port = make_port(lab, umem, 0, {.socket = {.multi_buffer = true}});
    ASSERT_TRUE(port.socket().multi_buffer());
    const size_t free_before = port.frames().available();
    UniqueFd rx = peer_udp_socket(lab, XskLab::kPeerIp4, 9100);
    pkt::Mac src, dst;
    std::copy(std::begin(XskLab::kDutMac), std::end(XskLab::kDutMac), src.begin());
    std::copy(std::begin(XskLab::kPeerMac), std::end(XskLab::kPeerMac), dst.begin());
    std::vector<Bytes> frames, payloads;
    for (size_t len : {8972u, 5000u, 100u}) {
        frames.push_back(pkt::PacketBuilder()
                             .eth(src, dst)
                             .ipv4(XskLab::kDutIp4, XskLab::kPeerIp4)
                             .udp(9200, 9100)
                             .payload(len, uint8_t(len))
                             .build());
        payloads.push_back(parse_udp(frames.back()).payload);
    }
    std::vector<std::span<const uint8_t>> batch(frames.begin(), frames.end());
    size_t queued = 0;
    for (auto deadline = Clock::now() + 3s; queued < batch.size() && Clock::now() < deadline;)
        queued += port.tx_batch(std::span(batch).subspan(queued));
    ASSERT_EQ(queued, batch.size());
    std::vector<Bytes> got;
    while (got.size() < payloads.size()) {
        pollfd p{rx.get(), POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) break;
        Bytes buf(10000);
        const ssize_t n = recv(rx.get(), buf.data(), buf.size(), 0);
        ASSERT_GT(n, 0);
        buf.resize(size_t(n));
        got.push_back(std::move(buf));
    }
    EXPECT_EQ(got, payloads);
    for (auto deadline = Clock::now() + 2s; port.tx_in_flight() > 0 && Clock::now() < deadline;) {
        port.reap_completions();
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(port.frames().available(), free_before) << "every frame of every chain came back";
    EXPECT_EQ(port.socket().statistics().tx_invalid_descs, 0u);
}

// 10. Busy-poll options are set on the socket when asked, and only then.
TEST_F(Xsk, BusyPollOptionsAreSetWhenAsked) {
    XskLab lab;
    xsk::Umem umem({.frame_count = 256});
    auto get = [](int fd, int opt) {
        int v = -1;
        socklen_t len = sizeof v;
        check(getsockopt(fd, SOL_SOCKET, opt, &v, &len), "getsockopt");
        return v;
    };
    {
        xsk::Port plain = make_port(lab, umem, 0);
        EXPECT_EQ(get(plain.socket().fd(), SO_PREFER_BUSY_POLL), 0);
        EXPECT_EQ(get(plain.socket().fd(), SO_BUSY_POLL), 0);
    }
    xsk::Port port = make_port(lab, umem, 0, {.socket = {.busy_poll = xsk::BusyPoll{.usecs = 50, .budget = 16}}});
    EXPECT_EQ(get(port.socket().fd(), SO_PREFER_BUSY_POLL), 1);
    EXPECT_EQ(get(port.socket().fd(), SO_BUSY_POLL), 50);
    // Linux has no getsockopt for SO_BUSY_POLL_BUDGET (ENOPROTOOPT, 6.18);
    // that the library hands it to the kernel shows in a value it refuses.
    int budget = -1;
    socklen_t len = sizeof budget;
    if (getsockopt(port.socket().fd(), SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, &len) == 0)
        EXPECT_EQ(budget, 16);
    else
        EXPECT_EQ(errno, ENOPROTOOPT);
    try {
        make_port(lab, umem, 1, {.socket = {.busy_poll = xsk::BusyPoll{.budget = 70000}}});
        ADD_FAILURE() << "a budget above 65535 should be refused by the kernel";
    } catch (const SysError& e) {
        EXPECT_EQ(e.code(), EINVAL) << e.what();
        EXPECT_NE(std::string(e.what()).find("SO_BUSY_POLL_BUDGET"), std::string::npos) << e.what();
    }
    lab.insert(0, port.socket().fd());
    auto sent = make_payloads("busy", 20);
    send_udp(lab, XskLab::kDutIp4, 9000, sent);
    EXPECT_EQ(payloads_of(collect(port, sent.size(), 3s), 9000, 4), sent);
}

// Bad configurations are refused before the kernel sees them.
TEST_F(Xsk, InvalidConfigurationsAreRefused) {
    EXPECT_THROW(xsk::Umem({.frame_size = 3000}), std::invalid_argument);
    EXPECT_THROW(xsk::Umem({.frame_count = 0}), std::invalid_argument);
    EXPECT_THROW(xsk::Umem({.frame_size = 2048, .headroom = 2048}), std::invalid_argument);
    xsk::Umem umem({.frame_count = 64});
    EXPECT_THROW(xsk::Socket(umem, "lo", 0, {.rx_size = 1000}), std::invalid_argument);
    try {
        xsk::Socket(umem, "xsk-no-such-if", 0);
        ADD_FAILURE() << "no such interface";
    } catch (const SysError& e) {
        EXPECT_EQ(e.code(), ENODEV) << e.what();
    }
}

}  // namespace
}  // namespace xdpd::test
