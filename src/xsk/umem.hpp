// Umem: the packet buffer area an AF_XDP socket receives into and sends
// from, frame_count frames of frame_size bytes, mapped once (RAII). The
// kernel learns about it when the first Socket registers it (XDP_UMEM_REG);
// the Umem must outlive every Socket using it.
//
// Frames are addressed by their UMEM offset ("addr"): frame i starts at
// i * frame_size. Received packets start at frame + headroom + 256 in copy
// mode (the kernel's XDP_PACKET_HEADROOM), so the offset of a descriptor is
// not a frame start: frame_of(addr) rounds it down.
#pragma once
#include <cstdint>
#include <string>

#include "xsk/kernel.hpp"
#include "xsk/mapping.hpp"

namespace xsk {

struct UmemConfig {
    uint32_t frame_size = 4096;   // 2048 or 4096 (a power of two, at most a page)
    uint32_t frame_count = 4096;  // frames in the area
    uint32_t headroom = 0;        // bytes the kernel leaves free in front of received packets
    bool hugepages = false;       // try MAP_HUGETLB first; normal pages if that fails (see huge())
};

class Umem {
public:
    // Maps the area. Throws std::invalid_argument for a bad config and
    // xdpd::SysError when even normal pages cannot be mapped.
    explicit Umem(const UmemConfig& cfg = {});
    Umem(Umem&&) noexcept = default;
    Umem& operator=(Umem&&) noexcept = default;

    uint8_t* area() const { return static_cast<uint8_t*>(map_.get()); }
    // Bytes registered with the kernel: frame_size * frame_count.
    uint64_t size() const { return uint64_t(cfg_.frame_size) * cfg_.frame_count; }
    uint32_t frame_size() const { return cfg_.frame_size; }
    uint32_t frame_count() const { return cfg_.frame_count; }
    uint32_t headroom() const { return cfg_.headroom; }

    // True when the area is on huge pages. When hugepages were asked for and
    // this is false, note() says why (e.g. none reserved in
    // /proc/sys/vm/nr_hugepages).
    bool huge() const { return huge_; }
    const std::string& note() const { return note_; }

    uint64_t frame_addr(uint32_t i) const { return uint64_t(i) * cfg_.frame_size; }
    uint64_t frame_of(uint64_t addr) const { return addr & ~uint64_t(cfg_.frame_size - 1); }
    uint8_t* data(uint64_t addr) const { return area() + addr; }

private:
    UmemConfig cfg_;
    Mapping map_;
    bool huge_ = false;
    std::string note_;
};

}  // namespace xsk
