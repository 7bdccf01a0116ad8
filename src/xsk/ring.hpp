// The four AF_XDP rings as seen from user space, over the memory the kernel
// maps for them (see Socket). Single-producer/single-consumer: one ring is
// used by one thread at a time (normally the thread that owns the socket).
//
//   ProducerRing: we produce, the kernel consumes. FillRing (UMEM addresses
//   of empty frames for the kernel to receive into) and TxRing (descriptors
//   of frames to send).
//   ConsumerRing: the kernel produces, we consume. RxRing (descriptors of
//   received packets) and CompletionRing (addresses of sent frames, free
//   again).
//
// Batch protocol:
//   producer: n = reserve(want, &idx); write at(idx) .. at(idx + n - 1); submit(n)
//   consumer: n = peek(want, &idx);    read  at(idx) .. at(idx + n - 1); release(n)
// Indices are free-running 32-bit counters; at() masks them. The local
// copies of the kernel's producer/consumer index are refreshed only when the
// cached view runs out, with acquire loads; submit/release publish with
// release stores, so entries are visible before the index that covers them.
#pragma once
#include <linux/if_xdp.h>

#include <cstdint>

#include "xsk/kernel.hpp"

namespace xsk {

namespace detail {
// Where the kernel placed the parts of one ring in its mapping.
struct RingView {
    uint32_t* producer = nullptr;
    uint32_t* consumer = nullptr;
    uint32_t* flags = nullptr;
    void* desc = nullptr;
    uint32_t size = 0;  // entries, a power of two

    static RingView at(void* map, const xdp_ring_offset& off, uint32_t size) {
        auto* base = static_cast<char*>(map);
        return {reinterpret_cast<uint32_t*>(base + off.producer), reinterpret_cast<uint32_t*>(base + off.consumer),
                reinterpret_cast<uint32_t*>(base + off.flags), base + off.desc, size};
    }
};
}  // namespace detail

template <typename T>
class ProducerRing {
public:
    ProducerRing() = default;
    explicit ProducerRing(detail::RingView v)
        : v_(v), mask_(v.size - 1),
          cached_prod_(__atomic_load_n(v.producer, __ATOMIC_RELAXED)),
          cached_cons_(__atomic_load_n(v.consumer, __ATOMIC_ACQUIRE) + v.size) {}

    bool valid() const { return v_.producer != nullptr; }
    uint32_t size() const { return v_.size; }

    // Free entries, looking at the kernel's consumer index only when fewer
    // than `wanted` are known to be free.
    uint32_t free_entries(uint32_t wanted) {
        uint32_t n = cached_cons_ - cached_prod_;
        if (n >= wanted) return n;
        cached_cons_ = __atomic_load_n(v_.consumer, __ATOMIC_ACQUIRE) + v_.size;
        return cached_cons_ - cached_prod_;
    }
    // Reserves up to n entries (fewer when the ring is fuller); *idx is the
    // first. Returns how many were reserved (0: ring full).
    uint32_t reserve(uint32_t n, uint32_t* idx) {
        uint32_t free = free_entries(n);
        if (n > free) n = free;
        *idx = cached_prod_;
        cached_prod_ += n;
        return n;
    }
    // Gives back the last n reserved entries, not submitted.
    void cancel(uint32_t n) { cached_prod_ -= n; }
    // Publishes n reserved entries to the kernel (after they are written).
    void submit(uint32_t n) {
        __atomic_store_n(v_.producer, *v_.producer + n, __ATOMIC_RELEASE);
    }
    T& at(uint32_t idx) { return static_cast<T*>(v_.desc)[idx & mask_]; }

    // The kernel asks to be woken up (sendto for TX, poll/recvfrom for the
    // fill ring) before it processes this ring again.
    bool needs_wakeup() const { return __atomic_load_n(v_.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP; }
    // Entries submitted and not yet consumed by the kernel.
    uint32_t outstanding() const {
        return __atomic_load_n(v_.producer, __ATOMIC_RELAXED) - __atomic_load_n(v_.consumer, __ATOMIC_ACQUIRE);
    }

private:
    detail::RingView v_;
    uint32_t mask_ = 0;
    uint32_t cached_prod_ = 0;
    uint32_t cached_cons_ = 0;  // kernel consumer + size: first entry we may not write
};

template <typename T>
class ConsumerRing {
public:
    ConsumerRing() = default;
    explicit ConsumerRing(detail::RingView v)
        : v_(v), mask_(v.size - 1),
          cached_prod_(__atomic_load_n(v.producer, __ATOMIC_ACQUIRE)),
          cached_cons_(__atomic_load_n(v.consumer, __ATOMIC_RELAXED)) {}

    bool valid() const { return v_.producer != nullptr; }
    uint32_t size() const { return v_.size; }

    // Entries ready, up to n; reads the kernel's producer index only when
    // the cached view is empty.
    uint32_t available(uint32_t n) {
        uint32_t ready = cached_prod_ - cached_cons_;
        if (ready == 0) {
            cached_prod_ = __atomic_load_n(v_.producer, __ATOMIC_ACQUIRE);
            ready = cached_prod_ - cached_cons_;
        }
        return ready < n ? ready : n;
    }
    // Takes up to n ready entries; *idx is the first. Returns how many.
    uint32_t peek(uint32_t n, uint32_t* idx) {
        n = available(n);
        *idx = cached_cons_;
        cached_cons_ += n;
        return n;
    }
    // Puts the last n peeked entries back (they are peeked again next time).
    void unpeek(uint32_t n) { cached_cons_ -= n; }
    // Hands n peeked entries back to the kernel (after they were read).
    void release(uint32_t n) {
        __atomic_store_n(v_.consumer, *v_.consumer + n, __ATOMIC_RELEASE);
    }
    const T& at(uint32_t idx) const { return static_cast<const T*>(v_.desc)[idx & mask_]; }

    bool needs_wakeup() const { return __atomic_load_n(v_.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP; }

private:
    detail::RingView v_;
    uint32_t mask_ = 0;
    uint32_t cached_prod_ = 0;
    uint32_t cached_cons_ = 0;
};

using FillRing = ProducerRing<uint64_t>;
using TxRing = ProducerRing<xdp_desc>;
using RxRing = ConsumerRing<xdp_desc>;
using CompletionRing = ConsumerRing<uint64_t>;

}  // namespace xsk
