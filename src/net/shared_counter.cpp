#include "net/shared_counter.hpp"

#include <sys/mman.h>

#include "util/error.hpp"

namespace xdpd::net {

SharedCounter::SharedCounter() {
    void* p = mmap(nullptr, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw SysError("mmap shared counter", errno);
    p_ = static_cast<uint64_t*>(p);
    *p_ = 0;
}

SharedCounter::~SharedCounter() {
    if (p_) munmap(p_, sizeof(uint64_t));
}

}  // namespace xdpd::net
