// The kernel's AF_XDP interface (<linux/if_xdp.h>), plus the few constants
// newer than the installed headers (Debian 12 ships 6.1 headers; the running
// kernel may know more). Values are the kernel's UAPI, not ours.
#pragma once
#include <linux/if_xdp.h>
#include <sys/socket.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)  // bind flag: the application handles multi-descriptor packets (6.6)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)  // xdp_desc.options: more descriptors of this packet follow (6.6)
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace xsk {

// Room the kernel keeps in front of the packet in every frame in copy mode
// (XDP_PACKET_HEADROOM), before the UMEM's own headroom.
inline constexpr unsigned kXdpPacketHeadroom = 256;

}  // namespace xsk
