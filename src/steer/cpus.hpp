// The daemon's side of CPU steering: the CPUMAP entries (one kernel thread
// per CPU, with a queue of queue_size packets) and the spread list of
// xdpd_steer, from config on every apply.
#pragma once
#include <linux/types.h>

#include <string>
#include <vector>

#include "bpf/map.hpp"

namespace xdpd::steer {

// Makes xdpd_cpus hold exactly `cpus` (each with queue_size; entries whose
// queue size is already right are left alone, so their threads keep running)
// and xdpd_steer spread over them. Empty cpus: no entries, nothing spread.
// Returns notes of what changed. Throws SysError naming the CPU the kernel
// refused.
std::vector<std::string> install_cpus(const bpf::MapRef& cpumap, const bpf::MapRef& steer_cfg,
                                      const std::vector<__u32>& cpus, __u32 queue_size);

}  // namespace xdpd::steer
