#include "xsk/thread.hpp"

#include <pthread.h>
#include <sched.h>

#include <string>

#include "util/error.hpp"

namespace xsk {

void pin_current_thread(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) throw xdpd::SysError("pin thread to CPU " + std::to_string(cpu), EINVAL);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) throw xdpd::SysError("pin thread to CPU " + std::to_string(cpu), rc);
}

void name_current_thread(std::string_view name) {
    std::string n(name.substr(0, 15));
    int rc = pthread_setname_np(pthread_self(), n.c_str());
    if (rc != 0) throw xdpd::SysError("name thread " + n, rc);
}

int current_cpu() { return sched_getcpu(); }

int allowed_cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set);
}

}  // namespace xsk
