#include "bpf/runtime.hpp"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace xdpd::bpf {

MappedArray::MappedArray(const MapRef& m) {
    bpf_map_info info{};
    __u32 len = sizeof info;
    check(bpf_obj_get_info_by_fd(m.fd(), &info, &len), "query map " + m.name());
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t value = (size_t(info.value_size) + 7) & ~size_t(7);
    len_ = (value * info.max_entries + page - 1) / page * page;
    void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd(), 0);
    if (p == MAP_FAILED) throw SysError("mmap map " + m.name(), errno);
    p_ = p;
}

MappedArray::MappedArray(MappedArray&& o) noexcept : p_(o.p_), len_(o.len_) { o.p_ = nullptr; }

MappedArray::~MappedArray() {
    if (p_) munmap(p_, len_);
}

void wait_for_readers() {
    // MEMBARRIER_CMD_GLOBAL waits for an RCU grace period (synchronize_rcu), and
    // XDP programs run inside RCU read-side sections.
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace xdpd::bpf
