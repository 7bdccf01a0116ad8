// A minimal AF_XDP socket for tests (copy mode, one UMEM of 64 frames, RX
// only): enough to put in xdpd's XSKMAP and read what arrives with the
// metadata in front. Not the AF_XDP library (src/xsk); header-only.
#pragma once
#include <poll.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "xsk/kernel.hpp"  // <linux/if_xdp.h>, AF_XDP, SOL_XDP

namespace xdpd::test {

class RawXsk {
public:
    static constexpr __u32 kFrames = 64, kFrameSize = 4096, kRing = 64;

    struct Frame {
        std::vector<uint8_t> data;      // the packet
        std::vector<uint8_t> in_front;  // up to 32 bytes before it in the frame (metadata)
    };

    // Binds to (ifindex, queue) in copy mode; throws SysError.
    RawXsk(unsigned ifindex, unsigned queue) {
        fd_.reset(socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
        if (!fd_) throw SysError("socket(AF_XDP)", errno);
        umem_size_ = size_t(kFrames) * kFrameSize;
        umem_ = mmap(nullptr, umem_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (umem_ == MAP_FAILED) throw SysError("mmap UMEM", errno);
        xdp_umem_reg reg{};
        reg.addr = reinterpret_cast<__u64>(umem_);
        reg.len = umem_size_;
        reg.chunk_size = kFrameSize;
        opt(XDP_UMEM_REG, &reg, sizeof reg, "XDP_UMEM_REG");
        const int n = kRing;
        opt(XDP_UMEM_FILL_RING, &n, sizeof n, "XDP_UMEM_FILL_RING");
        opt(XDP_UMEM_COMPLETION_RING, &n, sizeof n, "XDP_UMEM_COMPLETION_RING");
        opt(XDP_RX_RING, &n, sizeof n, "XDP_RX_RING");
        xdp_mmap_offsets off{};
        socklen_t len = sizeof off;
        if (getsockopt(fd_.get(), SOL_XDP, XDP_MMAP_OFFSETS, &off, &len)) throw SysError("XDP_MMAP_OFFSETS", errno);
        fill_len_ = off.fr.desc + kRing * sizeof(__u64);
        fill_ = map_ring(fill_len_, XDP_UMEM_PGOFF_FILL_RING, "fill ring");
        rx_len_ = off.rx.desc + kRing * sizeof(xdp_desc);
        rx_ = map_ring(rx_len_, XDP_PGOFF_RX_RING, "rx ring");
        fill_prod_ = reinterpret_cast<__u32*>(static_cast<char*>(fill_) + off.fr.producer);
        fill_ring_ = reinterpret_cast<__u64*>(static_cast<char*>(fill_) + off.fr.desc);
        rx_prod_ = reinterpret_cast<__u32*>(static_cast<char*>(rx_) + off.rx.producer);
        rx_cons_ = reinterpret_cast<__u32*>(static_cast<char*>(rx_) + off.rx.consumer);
        rx_ring_ = reinterpret_cast<xdp_desc*>(static_cast<char*>(rx_) + off.rx.desc);
        for (__u32 i = 0; i < kRing; ++i) fill_ring_[i] = __u64(i) * kFrameSize;
        __atomic_store_n(fill_prod_, kRing, __ATOMIC_RELEASE);
        sockaddr_xdp sa{};
        sa.sxdp_family = AF_XDP;
        sa.sxdp_ifindex = ifindex;
        sa.sxdp_queue_id = queue;
        sa.sxdp_flags = XDP_COPY;
        if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa))
            throw SysError("bind AF_XDP socket to ifindex " + std::to_string(ifindex) + " queue " +
                               std::to_string(queue),
                           errno);
    }
    ~RawXsk() {
        if (rx_) munmap(rx_, rx_len_);
        if (fill_) munmap(fill_, fill_len_);
        fd_.reset();
        if (umem_ && umem_ != MAP_FAILED) munmap(umem_, umem_size_);
    }
    RawXsk(const RawXsk&) = delete;
    RawXsk& operator=(const RawXsk&) = delete;

    int fd() const { return fd_.get(); }

    // The next received frame, or nullopt after `timeout`. Frames are not
    // given back to the fill ring: at most kFrames in a socket's life.
    std::optional<Frame> receive(std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const __u32 prod = __atomic_load_n(rx_prod_, __ATOMIC_ACQUIRE), cons = *rx_cons_;
            if (prod != cons) {
                const xdp_desc d = rx_ring_[cons & (kRing - 1)];
                const auto* p = static_cast<const uint8_t*>(umem_) + d.addr;
                Frame f;
                f.data.assign(p, p + d.len);
                f.in_front.assign(p - 32, p);
                __atomic_store_n(rx_cons_, cons + 1, __ATOMIC_RELEASE);
                return f;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd pfd{fd_.get(), POLLIN, 0};
            poll(&pfd, 1, int(std::min<long>(left.count(), 100)));
        }
    }

private:
    void opt(int name, const void* v, socklen_t len, const char* what) {
        if (setsockopt(fd_.get(), SOL_XDP, name, v, len)) throw SysError(std::string("setsockopt ") + what, errno);
    }
    void* map_ring(size_t len, off_t pgoff, const char* what) {
        void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_.get(), pgoff);
        if (p == MAP_FAILED) throw SysError(std::string("mmap AF_XDP ") + what, errno);
        return p;
    }

    UniqueFd fd_;
    void* umem_ = nullptr;
    size_t umem_size_ = 0;
    void *fill_ = nullptr, *rx_ = nullptr;
    size_t fill_len_ = 0, rx_len_ = 0;
    __u32 *fill_prod_ = nullptr, *rx_prod_ = nullptr, *rx_cons_ = nullptr;
    __u64* fill_ring_ = nullptr;
    xdp_desc* rx_ring_ = nullptr;
};

}  // namespace xdpd::test
