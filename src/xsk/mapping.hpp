// Mapping: one mmap'd region, unmapped exactly once (RAII, move-only).
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace xsk {

class Mapping {
public:
    Mapping() = default;
    Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
    Mapping(Mapping&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Mapping& operator=(Mapping&& o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { reset(); }

    void* get() const noexcept { return addr_; }
    size_t size() const noexcept { return len_; }
    explicit operator bool() const noexcept { return addr_ != nullptr; }
    void reset() noexcept {
        if (addr_) ::munmap(addr_, len_);
        addr_ = nullptr;
        len_ = 0;
    }

private:
    void* addr_ = nullptr;
    size_t len_ = 0;
};

}  // namespace xsk
