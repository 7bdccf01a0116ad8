#include "xskapp/system.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace xdpd::xskapp {

uint32_t rx_queue_count(const std::string& ifname) {
    if (ifname.size() >= IFNAMSIZ) throw SysError("interface " + ifname, ENAMETOOLONG);
    if (if_nametoindex(ifname.c_str()) == 0) throw SysError("interface " + ifname, errno);
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) throw SysError("socket for ethtool", errno);
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ch);
    if (ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) return 1;  // EOPNOTSUPP: a driver without channels
    uint32_t n = ch.rx_count + ch.combined_count;
    return n ? n : 1;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> out;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return {0};
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) out.push_back(c);
    if (out.empty()) out.push_back(0);
    return out;
}

}  // namespace xdpd::xskapp
