// SharedCounter: a 64-bit counter in a MAP_SHARED page, so a forked server can
// count what it saw and the parent can read it.
#pragma once
#include <cstdint>
#include <utility>

namespace xdpd::net {

class SharedCounter {
public:
    SharedCounter();  // throws SysError
    SharedCounter(SharedCounter&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    SharedCounter& operator=(SharedCounter&&) = delete;
    SharedCounter(const SharedCounter&) = delete;
    SharedCounter& operator=(const SharedCounter&) = delete;
    ~SharedCounter();

    void add(uint64_t n = 1) const { __atomic_fetch_add(p_, n, __ATOMIC_RELAXED); }
    uint64_t get() const { return p_ ? __atomic_load_n(p_, __ATOMIC_RELAXED) : 0; }

private:
    uint64_t* p_ = nullptr;
};

}  // namespace xdpd::net
