// FramePool: a free list of UMEM frames, for one thread. NOT thread-safe:
// give each thread (each Port) its own pool over its own range of frames;
// sockets sharing a UMEM must never hand the same frame to the kernel twice.
#pragma once
#include <cstdint>
#include <vector>

namespace xsk {

class FramePool {
public:
    static constexpr uint64_t kNone = ~uint64_t(0);

    FramePool() = default;
    // Frames first .. first + count - 1 of a UMEM with frames of frame_size,
    // all free.
    FramePool(uint32_t first, uint32_t count, uint32_t frame_size)
        : first_(uint64_t(first) * frame_size), end_(uint64_t(first + count) * frame_size), frame_size_(frame_size) {
        free_.reserve(count);
        for (uint32_t i = count; i-- > 0;) free_.push_back(uint64_t(first + i) * frame_size);
    }

    // A free frame's address, or kNone.
    uint64_t alloc() {
        if (free_.empty()) return kNone;
        uint64_t a = free_.back();
        free_.pop_back();
        return a;
    }
    // Returns the frame that contains addr (any offset inside it).
    void free(uint64_t addr) { free_.push_back(addr & ~uint64_t(frame_size_ - 1)); }

    bool owns(uint64_t addr) const { return addr >= first_ && addr < end_; }
    size_t available() const { return free_.size(); }
    uint32_t capacity() const { return uint32_t((end_ - first_) / (frame_size_ ? frame_size_ : 1)); }

private:
    std::vector<uint64_t> free_;
    uint64_t first_ = 0, end_ = 0;
    uint32_t frame_size_ = 4096;
};

}  // namespace xsk
