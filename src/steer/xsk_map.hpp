// For AF_XDP applications: the pinned XSKMAP of a running xdpd (xdpd_xsks),
// where a socket is put to receive what `steer` rules (to: xsk) send to its
// interface and RX queue. The socket must be bound to that interface and
// queue; each packet arrives with struct xdpd_xsk_meta in front of it
// (docs/steering.md). Entries outlive the daemon: a restart or reload keeps
// the map and the sockets in it.
#pragma once
#include <linux/types.h>

#include <optional>
#include <string>

#include "util/fd.hpp"
#include "xdpd/abi.h"

namespace xdpd::steer {

inline constexpr const char* kDefaultBpffs = "/sys/fs/bpf/xdpd";  // daemon.bpffs default

static_assert(sizeof(xdpd_xsk_meta) == XDPD_XSK_META_SIZE && XDPD_XSK_META_SIZE % 4 == 0 &&
                  XDPD_XSK_META_SIZE <= 32,
              "xdpd_xsk_meta must fit bpf_xdp_adjust_meta");

// <bpffs_dir>/xdpd_xsks
std::string xsk_map_path(const std::string& bpffs_dir = kDefaultBpffs);

// The slot xdpd gave an interface (xdpd_ifaces; `xdpd status --json`:
// interfaces[].slot), or nullopt when xdpd does not serve it.
std::optional<__u32> interface_slot(const std::string& ifname, const std::string& bpffs_dir = kDefaultBpffs);

class XskMap {
public:
    // Opens the pinned map; throws SysError when xdpd's data plane is not there.
    explicit XskMap(const std::string& bpffs_dir = kDefaultBpffs);

    // XDPD_XSK_INDEX(slot, queue); throws std::out_of_range beyond the limits.
    static __u32 index(__u32 slot, __u32 queue);

    // Puts the AF_XDP socket xsk_fd (bound to the slot's interface and this
    // queue) in the map: from now on the queue's steered packets go to it.
    void insert(__u32 slot, __u32 queue, int xsk_fd);
    // Takes the queue's socket out; false when there was none.
    bool erase(__u32 slot, __u32 queue);

    int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
    std::string path_;
};

// Reads a packet's metadata from the UMEM frame: `pkt` points at the packet
// (UMEM base + rx descriptor addr). Nullopt when the bytes in front are not
// a version-1 xdpd_xsk_meta (no metadata, or a frame not from xdpd).
std::optional<xdpd_xsk_meta> read_meta(const void* pkt);

}  // namespace xdpd::steer
