// Threads of an AF_XDP application: one per queue, each pinned to a CPU
// (normally the CPU that services that queue's interrupts) and named so that
// top -H and perf show which queue it serves.
#pragma once
#include <string_view>

namespace xsk {

// Pins the calling thread to one CPU. Throws xdpd::SysError (e.g. EINVAL for
// a CPU outside the process's cpuset).
void pin_current_thread(int cpu);

// Names the calling thread (truncated to the kernel's 15 characters).
void name_current_thread(std::string_view name);

// The CPU the calling thread runs on now (sched_getcpu), -1 if unknown.
int current_cpu();

// Number of CPUs the calling thread may run on.
int allowed_cpu_count();

}  // namespace xsk
