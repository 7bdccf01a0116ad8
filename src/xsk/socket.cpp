#include "xsk/socket.hpp"

#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "util/error.hpp"

namespace xsk {
namespace {

using xdpd::SysError;

bool power_of_two(uint32_t n) { return n && !(n & (n - 1)); }

int lookup_ifindex(const std::string& ifname) {
    unsigned idx = if_nametoindex(ifname.c_str());
    if (idx == 0) throw SysError("xsk: interface " + ifname, errno ? errno : ENODEV);
    return int(idx);
}

std::string interface_name(int ifindex) {
    char buf[IF_NAMESIZE] = {};
    if (if_indextoname(unsigned(ifindex), buf)) return buf;
    return "ifindex " + std::to_string(ifindex);
}

void set_int(int fd, int level, int opt, int value, const std::string& what) {
    if (setsockopt(fd, level, opt, &value, sizeof value) != 0) throw SysError(what, errno);
}

Mapping map_ring(int fd, size_t len, uint64_t pgoff, const std::string& what) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off_t(pgoff));
    if (p == MAP_FAILED) throw SysError(what, errno);
    return Mapping(p, len);
}

}  // namespace

const char* to_string(Mode m) { return m == Mode::zerocopy ? "zero-copy" : "copy"; }

Socket::Socket(Umem& umem, const std::string& ifname, uint32_t queue, const SocketOptions& opts)
    : Socket(umem, lookup_ifindex(ifname), queue, opts) {}

Socket::Socket(Umem& umem, int ifindex, uint32_t queue, const SocketOptions& opts)
    : umem_(&umem), ifindex_(ifindex), queue_(queue),
      name_(interface_name(ifindex) + " queue " + std::to_string(queue)) {
    for (uint32_t n : {opts.fill_size, opts.comp_size})
        if (!power_of_two(n)) throw std::invalid_argument("xsk " + name_ + ": fill/completion ring sizes must be powers of two");
    for (uint32_t n : {opts.rx_size, opts.tx_size})
        if (n && !power_of_two(n)) throw std::invalid_argument("xsk " + name_ + ": rx/tx ring sizes must be powers of two or 0");
    if (!opts.rx_size && !opts.tx_size) throw std::invalid_argument("xsk " + name_ + ": needs an RX or a TX ring");
    const Socket* owner = opts.shared_umem_with;
    if (owner) {
        if (owner->umem_ != umem_) throw std::invalid_argument("xsk " + name_ + ": shared_umem_with a socket on another Umem");
        if (owner->ifindex_ == ifindex_ && owner->queue_ == queue_)
            throw std::invalid_argument("xsk " + name_ + ": sharing a UMEM on the same queue is not supported");
    }

    bool want_zc = opts.zero_copy && !owner;
    const auto deadline = std::chrono::steady_clock::now() + opts.bind_busy_timeout;
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
        open(opts);
        ++bind_attempts_;
        uint16_t flags;
        if (owner) {
            flags = XDP_SHARED_UMEM;  // the kernel allows no other flag: all is inherited
        } else {
            flags = XDP_USE_NEED_WAKEUP | (want_zc ? XDP_ZEROCOPY : XDP_COPY);
            if (opts.multi_buffer) flags |= XDP_USE_SG;
        }
        int err = try_bind(opts, flags);
        if (err == 0) break;
        if (err == EBUSY && std::chrono::steady_clock::now() < deadline) {
            spdlog::debug("xsk {}: queue busy (attempt {}), retrying in {} ms", name_, bind_attempts_, backoff.count());
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
            continue;
        }
        if (want_zc && (err == EOPNOTSUPP || err == EINVAL)) {
            want_zc = false;
            mode_note_ = "zero-copy refused by " + interface_name(ifindex_) + " (" + std::strerror(err) +
                         "; the driver has no AF_XDP zero-copy support), using copy mode";
            spdlog::info("xsk {}: {}", name_, mode_note_);
            continue;
        }
        fd_.reset();
        if (opts.multi_buffer && !owner && (err == EINVAL || err == EOPNOTSUPP))
            throw SysError("xsk: bind " + name_ + " with multi-buffer (XDP_USE_SG): refused by the kernel or driver", err);
        throw SysError("xsk: bind " + name_ + (err == EBUSY ? " (queue still busy after retrying)" : ""), err);
    }

    xdp_options o{};
    socklen_t len = sizeof o;
    if (getsockopt(fd_.get(), SOL_XDP, XDP_OPTIONS, &o, &len) != 0) throw SysError("xsk: XDP_OPTIONS on " + name_, errno);
    mode_ = (o.flags & XDP_OPTIONS_ZEROCOPY) ? Mode::zerocopy : Mode::copy;
    if (opts.zero_copy && owner && mode_ == Mode::copy && owner->mode_note_.size()) mode_note_ = owner->mode_note_;
    sg_ = owner ? owner->sg_ : opts.multi_buffer;
    spdlog::debug("xsk {}: bound in {} mode{} after {} attempt(s)", name_, to_string(mode_), sg_ ? ", multi-buffer" : "",
                  bind_attempts_);
}

// A fresh socket with its UMEM registration (or not, when shared), busy-poll
// options and mapped rings; any previous attempt's socket is closed first.
void Socket::open(const SocketOptions& opts) {
    rx_ = {};
    tx_ = {};
    fill_ = {};
    comp_ = {};
    rx_map_.reset();
    tx_map_.reset();
    fill_map_.reset();
    comp_map_.reset();
    fd_.reset(socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!fd_) throw SysError("xsk: socket(AF_XDP) for " + name_, errno);
    const int fd = fd_.get();

    if (opts.busy_poll) {
        const BusyPoll& b = *opts.busy_poll;
        set_int(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, b.prefer ? 1 : 0, "xsk: SO_PREFER_BUSY_POLL on " + name_);
        set_int(fd, SOL_SOCKET, SO_BUSY_POLL, b.usecs, "xsk: SO_BUSY_POLL on " + name_);
        set_int(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, b.budget, "xsk: SO_BUSY_POLL_BUDGET on " + name_);
    }
    if (!opts.shared_umem_with) {
        xdp_umem_reg reg{};
        reg.addr = reinterpret_cast<uint64_t>(umem_->area());
        reg.len = umem_->size();
        reg.chunk_size = umem_->frame_size();
        reg.headroom = umem_->headroom();
        if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0) {
            int err = errno;
            throw SysError("xsk: register UMEM of " + std::to_string(reg.len) + " bytes for " + name_ +
                               (err == ENOMEM || err == EPERM ? " (locked memory: raise RLIMIT_MEMLOCK or run with CAP_IPC_LOCK)" : ""),
                           err);
        }
    }
    setup_rings(opts);
}

void Socket::setup_rings(const SocketOptions& opts) {
    const int fd = fd_.get();
    set_int(fd, SOL_XDP, XDP_UMEM_FILL_RING, int(opts.fill_size), "xsk: fill ring size on " + name_);
    set_int(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, int(opts.comp_size), "xsk: completion ring size on " + name_);
    if (opts.rx_size) set_int(fd, SOL_XDP, XDP_RX_RING, int(opts.rx_size), "xsk: RX ring size on " + name_);
    if (opts.tx_size) set_int(fd, SOL_XDP, XDP_TX_RING, int(opts.tx_size), "xsk: TX ring size on " + name_);

    xdp_mmap_offsets off{};
    socklen_t len = sizeof off;
    if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) != 0)
        throw SysError("xsk: XDP_MMAP_OFFSETS on " + name_, errno);

    fill_map_ = map_ring(fd, off.fr.desc + opts.fill_size * sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING,
                         "xsk: map fill ring of " + name_);
    fill_ = FillRing(detail::RingView::at(fill_map_.get(), off.fr, opts.fill_size));
    comp_map_ = map_ring(fd, off.cr.desc + opts.comp_size * sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING,
                         "xsk: map completion ring of " + name_);
    comp_ = CompletionRing(detail::RingView::at(comp_map_.get(), off.cr, opts.comp_size));
    if (opts.rx_size) {
        rx_map_ = map_ring(fd, off.rx.desc + opts.rx_size * sizeof(xdp_desc), XDP_PGOFF_RX_RING,
                           "xsk: map RX ring of " + name_);
        rx_ = RxRing(detail::RingView::at(rx_map_.get(), off.rx, opts.rx_size));
    }
    if (opts.tx_size) {
        tx_map_ = map_ring(fd, off.tx.desc + opts.tx_size * sizeof(xdp_desc), XDP_PGOFF_TX_RING,
                           "xsk: map TX ring of " + name_);
        tx_ = TxRing(detail::RingView::at(tx_map_.get(), off.tx, opts.tx_size));
    }
}

int Socket::try_bind(const SocketOptions& opts, uint16_t flags) {
    sockaddr_xdp sa{};
    sa.sxdp_family = AF_XDP;
    sa.sxdp_flags = flags;
    sa.sxdp_ifindex = uint32_t(ifindex_);
    sa.sxdp_queue_id = queue_;
    if (opts.shared_umem_with) sa.sxdp_shared_umem_fd = uint32_t(opts.shared_umem_with->fd());
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return 0;
    return errno;
}

Statistics Socket::statistics() const {
    xdp_statistics st{};
    socklen_t len = sizeof st;
    if (getsockopt(fd_.get(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
        throw SysError("xsk: XDP_STATISTICS on " + name_, errno);
    return {st.rx_dropped, st.rx_invalid_descs, st.tx_invalid_descs,
            st.rx_ring_full, st.rx_fill_ring_empty_descs, st.tx_ring_empty_descs};
}

void Socket::kick_tx() {
    if (sendto(fd_.get(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    int err = errno;
    if (err == EAGAIN || err == EBUSY || err == ENOBUFS || err == ENETDOWN) return;
    throw SysError("xsk: kick TX of " + name_, err);
}

bool Socket::wake_rx(int timeout_ms) {
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno != EINTR) throw SysError("xsk: poll " + name_, errno);
    return rc > 0 && (p.revents & POLLIN);
}

}  // namespace xsk
