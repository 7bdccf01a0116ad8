#include "xsk/port.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace xsk {

std::vector<uint8_t> Packet::bytes() const {
    std::vector<uint8_t> out;
    out.reserve(length);
    for (const Segment& s : segments) out.insert(out.end(), s.data, s.data + s.len);
    return out;
}

namespace {
uint32_t port_frames(const Umem& umem, const PortOptions& o) {
    if (o.first_frame >= umem.frame_count()) throw std::invalid_argument("xsk port: first_frame beyond the Umem");
    uint32_t n = o.frame_count ? o.frame_count : umem.frame_count() - o.first_frame;
    if (uint64_t(o.first_frame) + n > umem.frame_count()) throw std::invalid_argument("xsk port: frames beyond the Umem");
    return n;
}
}  // namespace

Port::Port(Umem& umem, const std::string& ifname, uint32_t queue, const PortOptions& opts)
    : umem_(&umem), sock_(umem, ifname, queue, opts.socket),
      pool_(opts.first_frame, port_frames(umem, opts), umem.frame_size()) {
    uint32_t n = pool_.capacity();
    fill_target_ = opts.fill_frames ? std::min(opts.fill_frames, n) : (opts.socket.tx_size ? n / 2 : n);
    if (opts.socket.rx_size == 0) fill_target_ = 0;
    fill_target_ = std::min(fill_target_, sock_.fill().size());
    segs_.reserve(32);
    refill();
}

uint32_t Port::refill() {
    if (in_fill_ >= fill_target_) return 0;
    uint32_t want = std::min<uint32_t>(fill_target_ - in_fill_, uint32_t(pool_.available()));
    if (want == 0) return 0;
    FillRing& fq = sock_.fill();
    uint32_t idx = 0;
    uint32_t n = fq.reserve(want, &idx);
    for (uint32_t i = 0; i < n; ++i) fq.at(idx + i) = pool_.alloc();
    if (n) fq.submit(n);
    in_fill_ += n;
    return n;
}

uint32_t Port::reap_completions() {
    CompletionRing& cq = sock_.comp();
    uint32_t idx = 0, total = 0;
    while (uint32_t n = cq.peek(64, &idx)) {
        for (uint32_t i = 0; i < n; ++i) pool_.free(cq.at(idx + i));
        cq.release(n);
        total += n;
    }
    tx_in_flight_ -= total;
    return total;
}

uint32_t Port::tx_batch(std::span<const std::span<const uint8_t>> frames) {
    TxRing& tx = sock_.tx();
    if (!tx.valid()) throw std::logic_error("xsk port " + sock_.name() + ": no TX ring");
    reap_completions();
    const uint32_t fs = umem_->frame_size();
    uint32_t queued = 0;
    for (std::span<const uint8_t> f : frames) {
        if (f.empty()) continue;
        uint32_t need = uint32_t((f.size() + fs - 1) / fs);
        if (need > 1 && !sock_.multi_buffer())
            throw std::invalid_argument("xsk port " + sock_.name() + ": a " + std::to_string(f.size()) +
                                        "-byte frame needs multi_buffer");
        if (pool_.available() < need) break;
        uint32_t idx = 0;
        if (uint32_t got = tx.reserve(need, &idx); got < need) {
            tx.cancel(got);
            break;
        }
        for (uint32_t i = 0; i < need; ++i) {
            size_t off = size_t(i) * fs;
            uint32_t len = uint32_t(std::min<size_t>(fs, f.size() - off));
            uint64_t addr = pool_.alloc();
            std::memcpy(umem_->data(addr), f.data() + off, len);
            xdp_desc& d = tx.at(idx + i);
            d.addr = addr;
            d.len = len;
            d.options = i + 1 < need ? XDP_PKT_CONTD : 0;
        }
        tx.submit(need);
        tx_in_flight_ += need;
        ++queued;
    }
    // Copy mode sends only from a syscall; zero-copy drivers ask via need_wakeup.
    if (queued && (tx.needs_wakeup() || sock_.mode() == Mode::copy)) sock_.kick_tx();
    return queued;
}

}  // namespace xsk
