// Options of the AF_XDP apps (`xdpd xsk rxdrop|l2fwd|echo`), as the command
// line sets them (src/cli/xsk_cmd.cpp). See docs/afxdp.md, "Apps".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpd::xskapp {

enum class AppKind { rxdrop, l2fwd, echo };
const char* to_string(AppKind k);

struct AppOptions {
    AppKind app = AppKind::rxdrop;
    std::string interface;        // -i: required
    std::vector<uint32_t> queues; // -q: empty = every RX queue of the interface
    std::vector<int> cpus;        // --cpus: CPU of queues[i]; empty = i-th allowed CPU (mod their count)
    uint32_t frame_size = 4096;   // 2048 or 4096
    uint32_t frames = 4096;       // UMEM frames per queue
    uint32_t batch = 64;          // RX descriptors per loop
    std::optional<int> busy_poll_usecs;  // --busy-poll[=usecs]
    bool zero_copy = false;       // request zero-copy (copy is used, and said, when refused)
    bool hugepages = false;
    double duration = 0;          // seconds; 0: until SIGINT/SIGTERM
    uint64_t count = 0;           // rxdrop: stop after this many packets (0: no limit)
    uint32_t show_meta = 0;       // rxdrop: print the metadata of the first N packets
    uint16_t port = 5000;         // echo: the UDP port answered
    bool json = false;            // one JSON object per line
    bool quiet = false;           // no per-second lines (summary only)
    std::string bpffs = "/sys/fs/bpf/xdpd";  // where the daemon pinned its maps
    std::string socket = "/run/xdpd/xdpd.sock";  // the daemon's control socket (asked whether a rule steers)
};

// Exit code of the apps: 0 after a clean stop (signal, --duration, --count).
int run_app(const AppOptions& o);

}  // namespace xdpd::xskapp
