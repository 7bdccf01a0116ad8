#include "xsk_lab.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "net/link.hpp"
#include "net/process.hpp"
#include "util/error.hpp"
#include "xsk/thread.hpp"
#include "xsk_redirect.skel.h"

namespace xdpd::test {
namespace {

std::string mac_str(const uint8_t* m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

sockaddr_storage make_addr(const std::string& addr, uint16_t port, socklen_t* len) {
    sockaddr_storage ss{};
    if (addr.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr) != 1) throw std::invalid_argument("bad address " + addr);
        *len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (inet_pton(AF_INET, addr.c_str(), &a->sin_addr) != 1) throw std::invalid_argument("bad address " + addr);
        *len = sizeof *a;
    }
    return ss;
}

}  // namespace

void XskLab::Destroy::operator()(xsk_redirect_bpf* s) const { xsk_redirect_bpf__destroy(s); }

XskLab::XskLab(XskLabOptions o)
    : prefix_(net::unique_prefix("xk")),
      peer_(net::Netns::create(prefix_ + "p")),
      dut_(net::Netns::create(prefix_ + "d")),
      peer_if_(prefix_ + "a"),
      dut_if_(prefix_ + "b") {
    const std::string q = std::to_string(o.queues);
    net::ip_cmd(nullptr, {"link", "add", peer_if_, "netns", peer_.name(), "address", mac_str(kPeerMac), "numtxqueues", q,
                          "numrxqueues", q, "type", "veth", "peer", "name", dut_if_, "netns", dut_.name(), "address",
                          mac_str(kDutMac), "numtxqueues", q, "numrxqueues", q});
    for (auto [ns, ifn] : {std::pair{&peer_, peer_if_}, std::pair{&dut_, dut_if_}}) {
        if (o.mtu != 1500) net::set_mtu(ns, ifn, o.mtu);
        net::link_up(ns, ifn);
    }
    net::add_addr(&peer_, peer_if_, std::string(kPeerIp4) + "/24");
    net::add_addr(&peer_, peer_if_, std::string(kPeerIp6) + "/64");
    net::add_addr(&dut_, dut_if_, std::string(kDutIp4) + "/24");
    net::add_addr(&dut_, dut_if_, std::string(kDutIp6) + "/64");
    for (const char* ip : {kDutIp4, kDutIp6})
        net::ip_cmd(&peer_, {"neigh", "replace", ip, "lladdr", mac_str(kDutMac), "dev", peer_if_, "nud", "permanent"});
    for (const char* ip : {kPeerIp4, kPeerIp6})
        net::ip_cmd(&dut_, {"neigh", "replace", ip, "lladdr", mac_str(kPeerMac), "dev", dut_if_, "nud", "permanent"});

    if (!o.attach) {
        for (auto [ns, ifn] : {std::pair{&peer_, peer_if_}, std::pair{&dut_, dut_if_}}) net::wait_link_up(ns, ifn);
        return;
    }
    skel_.reset(xsk_redirect_bpf__open());
    if (!skel_) throw SysError("open xsk_redirect", errno);
    skel_->rodata->port = o.port;
    check(xsk_redirect_bpf__load(skel_.get()), "load xsk_redirect");
    const int prog = bpf_program__fd(skel_->progs.xsk_redirect);
    dut_ifindex_ = in_netns(dut_.name(), [&] {
        int idx = int(if_nametoindex(dut_if_.c_str()));
        if (idx == 0) throw SysError("ifindex of " + dut_if_, errno);
        check(bpf_xdp_attach(idx, prog, XDP_FLAGS_DRV_MODE, nullptr), "attach xsk_redirect natively to " + dut_if_);
        return idx;
    });
    for (auto [ns, ifn] : {std::pair{&peer_, peer_if_}, std::pair{&dut_, dut_if_}}) net::wait_link_up(ns, ifn);
}

XskLab::~XskLab() {
    if (!skel_) return;
    try {
        in_netns(dut_.name(), [&] { bpf_xdp_detach(dut_ifindex_, XDP_FLAGS_DRV_MODE, nullptr); });
    } catch (const std::exception& e) {
        spdlog::warn("xsk lab: detach from {}: {}", dut_if_, e.what());
    }
    skel_.reset();
    // The namespaces (and with them the veth pair) go with peer_ and dut_.
}

void XskLab::insert(uint32_t queue, int xsk_fd) {
    check(bpf_map_update_elem(bpf_map__fd(skel_->maps.xsks), &queue, &xsk_fd, 0),
          "xsks[" + std::to_string(queue) + "]");
}

void XskLab::remove(uint32_t queue) { bpf_map_delete_elem(bpf_map__fd(skel_->maps.xsks), &queue); }

void XskLab::steer_tx_queue_by_cpu() {
    // /sys shows the devices of the namespace it was mounted in: `ip netns
    // exec` mounts the peer's in a private mount namespace for this one shell.
    net::exec_checked(nullptr, {"ip", "netns", "exec", peer_.name(), "sh", "-c",
                                "echo 1 > /sys/class/net/" + peer_if_ + "/queues/tx-0/xps_cpus && echo 2 > /sys/class/net/" +
                                    peer_if_ + "/queues/tx-1/xps_cpus"});
}

void send_udp(const XskLab& lab, const std::string& addr, uint16_t port, const std::vector<Bytes>& payloads, int cpu) {
    lab.in_peer([&] {
        if (cpu >= 0) xsk::pin_current_thread(cpu);
        socklen_t len = 0;
        sockaddr_storage to = make_addr(addr, port, &len);
        UniqueFd s(socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s) throw SysError("udp socket", errno);
        int i = 0;
        for (const Bytes& p : payloads) {
            if (sendto(s.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), len) != ssize_t(p.size()))
                throw SysError("send to " + addr + " port " + std::to_string(port), errno);
            if (++i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    });
}

UniqueFd peer_udp_socket(const XskLab& lab, const std::string& addr, uint16_t port) {
    return lab.in_peer([&] {
        socklen_t len = 0;
        sockaddr_storage at = make_addr(addr, port, &len);
        UniqueFd s(socket(at.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s) throw SysError("udp socket", errno);
        if (bind(s.get(), reinterpret_cast<sockaddr*>(&at), len) != 0)
            throw SysError("bind " + addr + " port " + std::to_string(port), errno);
        return s;
    });
}

std::vector<Bytes> make_payloads(const std::string& tag, int n, size_t min_len, size_t max_len) {
    std::vector<Bytes> out;
    for (int i = 0; i < n; ++i) {
        std::string head = tag + " " + std::to_string(i) + " ";
        size_t len = min_len + (size_t(i) * 97) % (max_len - min_len + 1);
        if (len < head.size()) len = head.size();
        Bytes b(head.begin(), head.end());
        while (b.size() < len) b.push_back(uint8_t(i * 31 + b.size() * 7));
        out.push_back(std::move(b));
    }
    return out;
}

UdpView parse_udp(const Bytes& f) {
    UdpView v;
    if (f.size() < 14) return v;
    uint16_t type = uint16_t(f[12] << 8 | f[13]);
    size_t l4 = 0;
    if (type == 0x0800 && f.size() >= 34 && f[23] == 17) {
        l4 = 14 + (f[14] & 0x0f) * 4;
        v.family = 4;
    } else if (type == 0x86dd && f.size() >= 54 && f[20] == 17) {
        l4 = 54;
        v.family = 6;
    } else {
        return v;
    }
    if (f.size() < l4 + 8) return {};
    v.dport = uint16_t(f[l4 + 2] << 8 | f[l4 + 3]);
    uint16_t ulen = uint16_t(f[l4 + 4] << 8 | f[l4 + 5]);
    if (ulen < 8 || l4 + ulen > f.size()) return {};
    v.payload.assign(f.begin() + long(l4 + 8), f.begin() + long(l4 + ulen));
    return v;
}

}  // namespace xdpd::test
