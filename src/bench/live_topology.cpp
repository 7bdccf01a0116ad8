#include "bench/live_topology.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/link.hpp"
#include "net/process.hpp"
#include "util/error.hpp"

namespace xdpd::bench {
namespace {

pkt::Mac parse_mac(const std::string& s) {
    pkt::Mac m{};
    unsigned b[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        throw std::runtime_error("cannot parse MAC address '" + s + "'");
    for (int i = 0; i < 6; ++i) m[i] = uint8_t(b[i]);
    return m;
}

pkt::Mac mac_of(const net::Netns& ns, const std::string& ifname) {
    auto r = net::ip_cmd(&ns, {"-o", "link", "show", "dev", ifname});
    auto at = r.out.find("link/ether ");
    if (at == std::string::npos) throw std::runtime_error("no MAC address in: " + r.out);
    return parse_mac(r.out.substr(at + 11, 17));
}

// A sysfs write in ns: `ip netns exec` mounts the namespace's own /sys
// (setns alone keeps showing the caller's interfaces there).
void sysfs_write(const net::Netns& ns, const std::string& path, const std::string& value) {
    net::exec_checked(nullptr, {"ip", "netns", "exec", ns.name(), "sh", "-c", "echo " + value + " > " + path});
}

}  // namespace

NetnsGuard::NetnsGuard(const net::Netns& ns) {
    home_ = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_) throw SysError("open /proc/thread-self/ns/net", errno);
    UniqueFd target = ns.open_fd();
    if (::setns(target.get(), CLONE_NEWNET)) throw SysError("setns " + ns.name(), errno);
}

NetnsGuard::~NetnsGuard() {
    if (::setns(home_.get(), CLONE_NEWNET)) spdlog::error("livebench: cannot return to the home netns: errno {}", errno);
}

std::map<std::string, uint64_t> ethtool_stats(const net::Netns& ns, const std::string& ifname) {
    auto r = net::exec_checked(&ns, {"ethtool", "-S", ifname});
    std::map<std::string, uint64_t> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(" \t"));
        try {
            out[name] = std::stoull(line.substr(colon + 1));
        } catch (const std::exception&) {
        }
    }
    return out;
}

LiveTopology::LiveTopology(int rx_cpu, bool rt, std::string prefix)
    : prefix_(std::move(prefix)),
      tx_(net::Netns::create(prefix_ + "-tx")),
      rx_(net::Netns::create(prefix_ + "-rx")),
      tx_if_(prefix_ + "g"),
      rx_if_(prefix_ + "r"),
      rx_cpu_(rx_cpu),
      rt_(rt) {
    if (rx_if_.size() > 15) throw std::invalid_argument("interface name too long: " + rx_if_);
    net::veth_pair(&tx_, tx_if_, &rx_, rx_if_);
    net::add_addr(&tx_, tx_if_, "10.77.0.3/24");
    net::add_addr(&rx_, rx_if_, "10.77.0.1/24");
    // GRO on: the receiver's NAPI exists without an XDP program, so it
    // accepts XDP frames (ndo_xdp_xmit) and turns them into skbs.
    net::exec_checked(&rx_, {"ethtool", "-K", rx_if_, "gro", "on"});
    net::link_up(&tx_, tx_if_);
    net::link_up(&rx_, rx_if_);
    net::wait_link_up(&tx_, tx_if_);
    net::wait_link_up(&rx_, rx_if_);
    // Threaded NAPI once the NAPI exists (the link is up, GRO on).
    if (rx_cpu_ >= 0) sysfs_write(rx_, "/sys/class/net/" + rx_if_ + "/threaded", "1");
    rx_mac_ = mac_of(rx_, rx_if_);
    tx_mac_ = mac_of(tx_, tx_if_);
    tx_ifindex_ = net::ifindex(&tx_, tx_if_);
    rx_ifindex_ = net::ifindex(&rx_, rx_if_);
    if (rx_cpu_ >= 0 && pin_napi() == 0)
        throw std::runtime_error("no NAPI thread found for " + rx_if_ + " (threaded NAPI not supported?)");
}

std::vector<std::pair<pid_t, std::string>> LiveTopology::napi_threads() const {
    // Threads are named "napi/IFNAME-NAPIID", cut to 15 characters.
    const std::string want = ("napi/" + rx_if_ + "-").substr(0, 15);
    std::vector<std::pair<pid_t, std::string>> out;
    DIR* d = ::opendir("/proc");
    if (!d) throw SysError("opendir /proc", errno);
    while (dirent* e = ::readdir(d)) {
        char* end;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        std::ifstream f(fmt::format("/proc/{}/comm", pid));
        std::string comm;
        if (std::getline(f, comm) && comm.starts_with(want)) out.emplace_back(pid_t(pid), comm);
    }
    ::closedir(d);
    return out;
}

int LiveTopology::pin_napi() const {
    if (rx_cpu_ < 0) return 0;
    int pinned = 0;
    for (const auto& [pid, comm] : napi_threads()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(rx_cpu_, &set);
        if (sched_setaffinity(pid, sizeof set, &set))
            throw SysError(fmt::format("pin {} (pid {}) to CPU {}", comm, pid, rx_cpu_), errno);
        sched_param sp{};
        sp.sched_priority = 1;
        if (rt_ && sched_setscheduler(pid, SCHED_FIFO, &sp))
            throw SysError(fmt::format("SCHED_FIFO for {} (pid {})", comm, pid), errno);
        ++pinned;
    }
    return pinned;
}

double LiveTopology::napi_cpu_seconds() const {
    if (rx_cpu_ < 0) return 0;
    double total = 0;
    for (const auto& [pid, comm] : napi_threads()) {
        std::ifstream st(fmt::format("/proc/{}/schedstat", pid));
        unsigned long long ns = 0;
        if (st >> ns) total += double(ns) / 1e9;
    }
    return total;
}

std::string LiveTopology::napi_description() const {
    if (rx_cpu_ < 0) return "receiver NAPI in softirq on the sender's CPU";
    return fmt::format("receiver NAPI threaded, pinned to CPU {}{}", rx_cpu_, rt_ ? ", both SCHED_FIFO" : "");
}

}  // namespace xdpd::bench
