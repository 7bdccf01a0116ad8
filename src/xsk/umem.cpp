#include "xsk/umem.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "util/error.hpp"

namespace xsk {
namespace {

// Default huge page size from /proc/meminfo ("Hugepagesize: 2048 kB").
uint64_t huge_page_size() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    while (in >> key) {
        if (key == "Hugepagesize:" && in >> kb) return kb * 1024;
        in.ignore(1 << 10, '\n');
    }
    return 2u << 20;
}

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

Umem::Umem(const UmemConfig& cfg) : cfg_(cfg) {
    if (cfg.frame_size != 2048 && cfg.frame_size != 4096)
        throw std::invalid_argument("umem: frame_size must be 2048 or 4096, not " + std::to_string(cfg.frame_size));
    if (uint64_t(cfg.frame_size) > uint64_t(sysconf(_SC_PAGESIZE)))
        throw std::invalid_argument("umem: frame_size " + std::to_string(cfg.frame_size) + " exceeds the page size");
    if (cfg.frame_count == 0) throw std::invalid_argument("umem: frame_count must not be 0");
    if (cfg.headroom + kXdpPacketHeadroom >= cfg.frame_size)
        throw std::invalid_argument("umem: headroom " + std::to_string(cfg.headroom) +
                                    " leaves no room for packets in a frame of " + std::to_string(cfg.frame_size));
    const uint64_t len = size();

    if (cfg.hugepages) {
        uint64_t hlen = round_up(len, huge_page_size());
        void* p = mmap(nullptr, hlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
                       -1, 0);
        if (p != MAP_FAILED) {
            map_ = Mapping(p, hlen);
            huge_ = true;
            note_ = "on huge pages (" + std::to_string(hlen >> 20) + " MiB)";
        } else {
            int err = errno;
            note_ = std::string("huge pages unavailable (") + std::strerror(err) +
                    (err == ENOMEM ? "; are any reserved in /proc/sys/vm/nr_hugepages?" : "") +
                    "), using normal pages";
            spdlog::info("xsk umem: {}", note_);
        }
    }
    if (!map_) {
        void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) throw xdpd::SysError("umem: map " + std::to_string(len) + " bytes", errno);
        map_ = Mapping(p, len);
    }
}

}  // namespace xsk
