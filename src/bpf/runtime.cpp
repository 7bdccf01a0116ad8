#include "bpf/runtime.hpp"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace xdpd::bpf {

RuntimeView::RuntimeView(const MapRef& m) {
    len_ = size_t(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd(), 0);
    if (p == MAP_FAILED) throw SysError("mmap map " + m.name(), errno);
    rt_ = static_cast<xdpd_runtime*>(p);
}

RuntimeView::RuntimeView(RuntimeView&& o) noexcept : rt_(o.rt_), len_(o.len_) {
    o.rt_ = nullptr;
}

RuntimeView::~RuntimeView() {
    if (rt_) munmap(rt_, len_);
}

void wait_for_readers() {
    // MEMBARRIER_CMD_GLOBAL waits for an RCU grace period (synchronize_rcu), and
    // XDP programs run inside RCU read-side sections.
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace xdpd::bpf
