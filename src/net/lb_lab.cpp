#include "net/lb_lab.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/link.hpp"
#include "net/process.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using Sysctls = std::vector<std::pair<std::string, std::string>>;

void check_version(int version) {
    if (version != 4 && version != 6)
        throw std::invalid_argument(fmt::format("IP version must be 4 or 6, not {}", version));
}

std::string checked_prefix(std::string prefix, int n_backends) {
    if (n_backends < 1 || n_backends > LbLab::kMaxBackends)
        throw std::invalid_argument(
            fmt::format("LbLab: {} backends; 1 to {} are possible", n_backends, LbLab::kMaxBackends));
    if (prefix.empty()) throw std::invalid_argument("LbLab: empty prefix");
    return prefix;
}

// The backends' namespaces; on a failure those already made are removed.
std::vector<Netns> make_backends(const std::string& prefix, int n) {
    std::vector<Netns> v;
    v.reserve(size_t(n));
    for (int i = 0; i < n; ++i) v.push_back(Netns::create(fmt::format("{}-{}", prefix, LbLab::backend_name(i))));
    return v;
}

std::string cidr(const std::string& addr, int version) {
    return fmt::format("{}/{}", addr, version == 4 ? LbLab::kPrefixLen4 : LbLab::kPrefixLen6);
}

// Settings every host (client, LB, backends) gets on its interface ifname.
//
// rp_filter 0: IPv4 conf/all of a new namespace is a copy of the init
// namespace's (1 or 2 on many distributions). Each host has one interface,
// so even strict rp_filter passes every path the lab has today, DSR included
// (the reverse route to a VIP or to the other subnet leaves by the same
// interface; checked); 0 keeps the lab independent of the host and of
// interfaces or routes a test adds. The effective value is the maximum of
// conf/all and the interface's, so both are set.
//
// accept_dad 0: link-local addresses usable at once too (global ones are
// added with nodad); a backend solicits the client from its link-local
// address when it sends a DSR reply.
Sysctls common_sysctls(const std::string& ifname) {
    Sysctls s;
    for (const std::string& conf : {std::string("all"), std::string("default"), ifname}) {
        s.emplace_back(fmt::format("net/ipv4/conf/{}/rp_filter", conf), "0");
        s.emplace_back(fmt::format("net/ipv6/conf/{}/accept_dad", conf), "0");
    }
    return s;
}

// A host that is not a router (client, backend): no redirects accepted. The
// LB host forwards between two subnets on one interface (lb0), so by default
// it sends ICMP redirects; once the client knows a backend's MAC (DSR replies
// teach it), an accepted redirect sends its traffic for 10.78.0.x straight
// to the backend, past the LB host (checked: a <redirected> route in the
// client's cache, forwarded packets gone missing). The LB host sends no IPv4
// redirects (see build()); IPv6 has no such switch (its redirects come from
// lb0's link-local address, not the client's gateway fd77::1, and would be
// ignored anyway), so the receivers refuse them too.
//
// arp_ignore 0, arp_filter 0: answer an ARP request for an address of the
// interface whatever subnet its sender is in. With DSR, a backend asks for
// the client's MAC from 10.78.0.x (its be0 address) while the client is in
// 10.77.0.0/24; arp_ignore 2 (inherited from the init namespace, like all
// of IPv4 conf/all) leaves that unanswered and the DSR reply undelivered
// (checked).
Sysctls end_host_sysctls(const std::string& ifname) {
    Sysctls s = common_sysctls(ifname);
    for (const std::string& conf : {std::string("all"), std::string("default"), ifname}) {
        s.emplace_back(fmt::format("net/ipv4/conf/{}/accept_redirects", conf), "0");
        s.emplace_back(fmt::format("net/ipv6/conf/{}/accept_redirects", conf), "0");
        s.emplace_back(fmt::format("net/ipv4/conf/{}/arp_ignore", conf), "0");
        s.emplace_back(fmt::format("net/ipv4/conf/{}/arp_filter", conf), "0");
    }
    return s;
}

}  // namespace

std::string mac_address(const Netns* ns, const std::string& ifname) {
    // "2: cli0@if3: <...> ... \    link/ether 6a:0e:...:01 brd ff:ff:ff:ff:ff:ff ..."
    CmdResult r = ip_cmd(ns, {"-o", "link", "show", "dev", ifname});
    auto pos = r.out.find("link/ether ");
    if (pos == std::string::npos)
        throw std::runtime_error(fmt::format("`{}`: no link/ether in '{}'", r.command, r.out));
    pos += 11;
    auto end = r.out.find(' ', pos);
    return r.out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

void set_sysctls(const Netns& ns, const Sysctls& settings) {
    Process p = Process::fork(
        &ns,
        [&settings] {
            for (const auto& [key, value] : settings) {
                std::string path = "/proc/sys/" + key;
                UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
                if (!fd || write(fd.get(), value.data(), value.size()) != ssize_t(value.size())) {
                    std::fprintf(stderr, "%s = %s: %s\n", path.c_str(), value.c_str(), std::strerror(errno));
                    return 1;
                }
            }
            return 0;
        },
        "set sysctls");
    auto rc = p.wait(std::chrono::seconds(10));
    if (rc != 0)
        throw std::runtime_error(
            fmt::format("{}: exit {}: {}", p.label(), rc ? *rc : -1, p.err()));
}

LbLab::LbLab(std::string prefix, int n_backends, Links links)
    : links_(links),
      prefix_(checked_prefix(std::move(prefix), n_backends)),
      client_(Netns::create(prefix_ + "-client")),
      lb_(Netns::create(prefix_ + "-lb")),
      backends_(make_backends(prefix_, n_backends)),
      sw_(Netns::create(prefix_ + "-sw")) {
    build();  // a throw here destroys the members: the namespaces go
    spdlog::debug("net: lb lab {} ready ({} backends)", prefix_, n_backends);
}

void LbLab::build() {
    // The bridge first, so that it takes ifindex 2 in sw: the switch ports then
    // never share an ifindex with their peers (also 2, in fresh namespaces),
    // which would make the kernel defer their link-up work by up to a second.
    bridge(&sw_, kBridge, {});
    const bool two = links_ == Links::two;
    if (two) bridge(&sw_, kBackendBridge, {});

    struct Host {
        const Netns* ns;
        std::string ifname, port;
        const char* bridge;
    };
    const char* be_bridge = two ? kBackendBridge : kBridge;
    std::vector<Host> hosts{{&client_, kClientIf, switch_port_client(), kBridge},
                            {&lb_, kLbIf, switch_port_lb(), kBridge}};
    if (two) hosts.push_back({&lb_, kLbBackendIf, switch_port_lb_backend(), kBackendBridge});
    for (int i = 0; i < n_backends(); ++i)
        hosts.push_back({&backends_[size_t(i)], kBackendIf, switch_port_backend(i), be_bridge});

    for (const Host& h : hosts) {
        veth_pair(h.ns, h.ifname, &sw_, h.port);
        disable_offloads(h.ns, h.ifname);
        disable_offloads(&sw_, h.port);
        ip_cmd(&sw_, {"link", "set", "dev", h.port, "master", h.bridge});
    }

    // Sysctls before the links come up (accept_dad must be 0 by then).
    set_sysctls(client_, end_host_sysctls(kClientIf));
    for (const Netns& be : backends_) set_sysctls(be, end_host_sysctls(kBackendIf));
    Sysctls lb = common_sysctls(kLbIf);
    if (two) {
        Sysctls more = common_sysctls(kLbBackendIf);
        lb.insert(lb.end(), more.begin(), more.end());
    }
    for (const std::string& conf : {std::string("all"), std::string(kLbIf), lb_backend_if()}) {
        // A router on one interface between two subnets sharing the segment:
        // no ICMP redirects (see end_host_sysctls()).
        lb.emplace_back(fmt::format("net/ipv4/conf/{}/send_redirects", conf), "0");
        lb.emplace_back(fmt::format("net/ipv4/conf/{}/arp_ignore", conf), "0");
        lb.emplace_back(fmt::format("net/ipv4/conf/{}/forwarding", conf), "1");
        lb.emplace_back(fmt::format("net/ipv6/conf/{}/forwarding", conf), "1");
    }
    set_sysctls(lb_, lb);

    for (int v : {4, 6}) {
        add_addr(&client_, kClientIf, cidr(client_addr(v), v));
        add_addr(&lb_, kLbIf, cidr(lb_addr(v), v));
        add_addr(&lb_, lb_backend_if(), cidr(lb_backend_side_addr(v), v));
        for (int i = 0; i < n_backends(); ++i) add_addr(&backends_[size_t(i)], kBackendIf, cidr(backend_addr(i, v), v));
    }

    for (const Host& h : hosts) {
        link_up(&sw_, h.port);
        link_up(h.ns, h.ifname);
    }
    for (const Host& h : hosts) {
        wait_link_up(&sw_, h.port);
        wait_link_up(h.ns, h.ifname);
    }

    // Routes need their gateways on-link, i.e. the addresses above.
    for (int v : {4, 6}) {
        std::string fam = v == 4 ? "-4" : "-6";
        ip_cmd(&client_, {fam, "route", "add", vip_prefix(v), "via", lb_addr(v), "dev", kClientIf});
        ip_cmd(&client_, {fam, "route", "add", backend_subnet(v), "via", lb_addr(v), "dev", kClientIf});
        for (const Netns& be : backends_)
            ip_cmd(&be, {fam, "route", "add", "default", "via", lb_backend_side_addr(v), "dev", kBackendIf});
    }

    client_mac_ = mac_address(&client_, kClientIf);
    lb_mac_ = mac_address(&lb_, kLbIf);
    for (const Netns& be : backends_) backend_macs_.push_back(mac_address(&be, kBackendIf));
}

void LbLab::enable_dsr(const std::vector<std::string>& vips) {
    std::vector<std::string> fresh;
    for (const auto& v : vips) {
        ip_version(v);  // numeric, or std::invalid_argument
        if (std::find(dsr_vips_.begin(), dsr_vips_.end(), v) == dsr_vips_.end() &&
            std::find(fresh.begin(), fresh.end(), v) == fresh.end())
            fresh.push_back(v);
    }
    bool first = dsr_vips_.empty();
    for (const Netns& be : backends_) {
        if (first) {
            // arp_ignore 1: ARP replies only for addresses on be0, so a backend
            // never answers for a VIP (on lo) on the shared segment. (Neighbour
            // solicitations are answered for the receiving interface's
            // addresses anyway.) arp_announce 2: the ARP request for the
            // client's MAC, sent with a DSR reply, carries be0's address and
            // not the VIP, which would otherwise land in the neighbour tables
            // of the segment. Maximum of all and be0: both set.
            Sysctls s;
            for (const std::string& conf : {std::string("all"), std::string(kBackendIf)}) {
                s.emplace_back(fmt::format("net/ipv4/conf/{}/arp_ignore", conf), "1");
                s.emplace_back(fmt::format("net/ipv4/conf/{}/arp_announce", conf), "2");
            }
            set_sysctls(be, s);
            // The DSR table: only the client subnet, on-link through be0 (the
            // client is on the same segment). Looked up for packets from a VIP
            // only (the rules below); packets from the backend's own address
            // keep the main table, i.e. the default route via the LB host.
            for (int v : {4, 6}) {
                ip_cmd(&be, {v == 4 ? "-4" : "-6", "route", "add", client_subnet(v), "dev", kBackendIf, "table",
                             std::to_string(kDsrTable)});
            }
        }
        for (const auto& vip : fresh) {
            int v = ip_version(vip);
            add_addr(&be, "lo", fmt::format("{}/{}", vip, v == 4 ? 32 : 128));
            ip_cmd(&be, {v == 4 ? "-4" : "-6", "rule", "add", "from", vip, "table", std::to_string(kDsrTable)});
        }
    }
    dsr_vips_.insert(dsr_vips_.end(), fresh.begin(), fresh.end());
}

const Netns& LbLab::backend(int i) const {
    if (i < 0 || i >= n_backends())
        throw std::out_of_range(fmt::format("LbLab: backend {} of {}", i, n_backends()));
    return backends_[size_t(i)];
}

const std::string& LbLab::backend_mac(int i) const {
    backend(i);  // range check
    return backend_macs_[size_t(i)];
}

std::string LbLab::switch_port_backend(int i) { return "sw-" + backend_name(i); }

std::vector<std::string> LbLab::switch_ports() const {
    std::vector<std::string> v{switch_port_client(), switch_port_lb()};
    if (links_ == Links::two) v.push_back(switch_port_lb_backend());
    for (int i = 0; i < n_backends(); ++i) v.push_back(switch_port_backend(i));
    return v;
}

std::string LbLab::backend_name(int i) {
    if (i < 0 || i >= kMaxBackends) throw std::out_of_range(fmt::format("LbLab: no backend {}", i));
    return fmt::format("be{}", i + 1);
}

std::string LbLab::client_addr(int version) {
    check_version(version);
    return version == 4 ? "10.77.0.2" : "fd77::2";
}

std::string LbLab::lb_addr(int version) {
    check_version(version);
    return version == 4 ? "10.77.0.1" : "fd77::1";
}

std::string LbLab::lb_backend_side_addr(int version) {
    check_version(version);
    return version == 4 ? "10.78.0.1" : "fd78::1";
}

std::string LbLab::backend_addr(int i, int version) {
    check_version(version);
    backend_name(i);  // range check
    return version == 4 ? fmt::format("10.78.0.{}", 11 + i) : fmt::format("fd78::{}", 11 + i);
}

std::string LbLab::vip(int version, int k) {
    check_version(version);
    if (k < 0 || k > 253) throw std::out_of_range(fmt::format("LbLab: no VIP {}", k));
    return version == 4 ? fmt::format("10.99.0.{}", 1 + k) : fmt::format("fd99::{}", 1 + k);
}

std::string LbLab::vip_prefix(int version) {
    check_version(version);
    return version == 4 ? "10.99.0.0/24" : "fd99::/64";
}

std::string LbLab::client_subnet(int version) {
    check_version(version);
    return version == 4 ? "10.77.0.0/24" : "fd77::/64";
}

std::string LbLab::backend_subnet(int version) {
    check_version(version);
    return version == 4 ? "10.78.0.0/24" : "fd78::/64";
}

std::vector<std::string> LbLab::netns_names() const {
    std::vector<std::string> v{client_.name(), lb_.name()};
    for (const Netns& be : backends_) v.push_back(be.name());
    v.push_back(sw_.name());
    return v;
}

void LbLab::release() {
    client_.release();
    lb_.release();
    for (Netns& be : backends_) be.release();
    sw_.release();
}

}  // namespace xdpd::net
