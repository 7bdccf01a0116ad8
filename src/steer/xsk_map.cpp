#include "steer/xsk_map.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "util/error.hpp"

namespace xdpd::steer {

std::string xsk_map_path(const std::string& bpffs_dir) { return bpffs_dir + "/xdpd_xsks"; }

std::optional<__u32> interface_slot(const std::string& ifname, const std::string& bpffs_dir) {
    const std::string path = bpffs_dir + "/xdpd_ifaces";
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) throw SysError("open pinned map " + path, errno);
    for (__u32 s = 0; s < XDPD_MAX_IFACES; ++s) {
        xdpd_iface e{};
        if (bpf_map_lookup_elem(fd.get(), &s, &e) != 0 || !e.ifindex) continue;
        if (ifname == std::string(e.name, strnlen(e.name, sizeof e.name))) return s;
    }
    return std::nullopt;
}

XskMap::XskMap(const std::string& bpffs_dir) : path_(xsk_map_path(bpffs_dir)) {
    fd_.reset(bpf_obj_get(path_.c_str()));
    if (!fd_) throw SysError("open pinned map " + path_ + " (is xdpd running?)", errno);
}

__u32 XskMap::index(__u32 slot, __u32 queue) {
    if (slot >= XDPD_MAX_IFACES)
        throw std::out_of_range(fmt::format("interface slot {} is beyond {}", slot, XDPD_MAX_IFACES - 1));
    if (queue >= XDPD_XSK_MAX_QUEUES)
        throw std::out_of_range(fmt::format("RX queue {}: xdpd steers to sockets on queues 0-{} only", queue,
                                            XDPD_XSK_MAX_QUEUES - 1));
    return XDPD_XSK_INDEX(slot, queue);
}

void XskMap::insert(__u32 slot, __u32 queue, int xsk_fd) {
    const __u32 key = index(slot, queue);
    const __u32 value = __u32(xsk_fd);
    check(bpf_map_update_elem(fd_.get(), &key, &value, BPF_ANY),
          fmt::format("put AF_XDP socket in {} at slot {} queue {}", path_, slot, queue));
}

bool XskMap::erase(__u32 slot, __u32 queue) {
    const __u32 key = index(slot, queue);
    if (bpf_map_delete_elem(fd_.get(), &key) == 0) return true;
    if (errno == ENOENT) return false;
    throw SysError(fmt::format("take AF_XDP socket out of {} at slot {} queue {}", path_, slot, queue), errno);
}

std::optional<xdpd_xsk_meta> read_meta(const void* pkt) {
    xdpd_xsk_meta m;
    std::memcpy(&m, static_cast<const char*>(pkt) - sizeof m, sizeof m);
    if (m.magic != XDPD_XSK_META_MAGIC || m.version != XDPD_XSK_META_VERSION || m.size != sizeof m)
        return std::nullopt;
    return m;
}

}  // namespace xdpd::steer
