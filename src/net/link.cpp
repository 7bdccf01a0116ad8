#include "net/link.hpp"

#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "net/netns.hpp"

namespace xdpd::net {

CmdResult ip_cmd(const Netns* ns, std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    return exec_checked(ns, std::move(args));
}

void veth_pair(const Netns* a, std::string a_if, const Netns* b, std::string b_if) {
    // Run from the current namespace; `netns X` on each end makes the kernel
    // create it there (IFLA_NET_NS_FD), no rename or move needed.
    std::vector<std::string> args{"link", "add", a_if};
    if (a) args.insert(args.end(), {"netns", a->name()});
    args.insert(args.end(), {"type", "veth", "peer", "name", b_if});
    if (b) args.insert(args.end(), {"netns", b->name()});
    ip_cmd(nullptr, std::move(args));
}

void add_addr(const Netns* ns, const std::string& ifname, const std::string& cidr) {
    std::vector<std::string> args{"addr", "add", cidr, "dev", ifname};
    if (cidr.find(':') != std::string::npos) args.push_back("nodad");
    ip_cmd(ns, std::move(args));
}

void link_up(const Netns* ns, const std::string& ifname) { ip_cmd(ns, {"link", "set", "dev", ifname, "up"}); }

void wait_link_up(const Netns* ns, const std::string& ifname, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    // IPv6 on the interface at all? (/proc/sys/net shows the reader's namespace.)
    CmdResult disabled = exec(ns, {"cat", "/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6"});
    bool has_v6 = disabled.ok() && disabled.out.starts_with("0");
    for (;;) {
        // Operstate UP and a real qdisc (not noop, which drops everything):
        // the linkwatch worker has handled the carrier.
        CmdResult link = ip_cmd(ns, {"-o", "link", "show", "dev", ifname});
        bool up = link.out.find(" state UP ") != std::string::npos &&
                  link.out.find(" qdisc noop ") == std::string::npos;
        bool v6_ready =
            up && (!has_v6 ||
                   !ip_cmd(ns, {"-6", "route", "show", "table", "local", "dev", ifname, "type", "multicast"}).out.empty());
        if (up && v6_ready) return;
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(fmt::format("{}{} not ready after {} ms: {}", ns ? ns->name() + ": " : "", ifname,
                                                 timeout.count(), up ? "IPv6 not configured yet" : link.out));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void set_mtu(const Netns* ns, const std::string& ifname, int mtu) {
    ip_cmd(ns, {"link", "set", "dev", ifname, "mtu", std::to_string(mtu)});
}

void disable_offloads(const Netns* ns, const std::string& ifname) {
    exec_checked(ns, {"ethtool", "-K", ifname, "rx", "off", "tx", "off", "sg", "off", "tso", "off", "gso", "off",
                      "gro", "off"});
}

void bridge(const Netns* ns, const std::string& br, const std::vector<std::string>& members) {
    ip_cmd(ns, {"link", "add", "name", br, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"});
    for (const auto& m : members) ip_cmd(ns, {"link", "set", "dev", m, "master", br});
    link_up(ns, br);
}

int ifindex(const Netns* ns, const std::string& ifname) {
    // "7: srv0@if6: <BROADCAST,...": the index leads the one-line form.
    CmdResult r = ip_cmd(ns, {"-o", "link", "show", "dev", ifname});
    try {
        size_t used = 0;
        int idx = std::stoi(r.out, &used);
        if (idx > 0 && used < r.out.size() && r.out[used] == ':') return idx;
    } catch (const std::exception&) {
    }
    throw std::runtime_error(fmt::format("`{}`: cannot parse ifindex from '{}'", r.command, r.out));
}

}  // namespace xdpd::net
