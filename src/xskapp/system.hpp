// What the apps ask the system: how many RX queues an interface has (in the
// caller's network namespace) and which CPUs the process may run on.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xdpd::xskapp {

// RX queues of ifname, from ETHTOOL_GCHANNELS (rx + combined) on a socket of
// the calling thread's namespace. /sys/class/net is not used: after setns
// (--netns) it still shows the namespace that mounted /sys. Throws SysError
// naming the interface when it does not exist; returns 1 when the driver
// does not report channels.
uint32_t rx_queue_count(const std::string& ifname);

// The CPUs the process may run on (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();

}  // namespace xdpd::xskapp
