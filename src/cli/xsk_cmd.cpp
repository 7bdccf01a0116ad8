#include "cli/xsk_cmd.hpp"

#include <fmt/format.h>

namespace xdpd::cli {
namespace {

const char* kNeeds =
    "\nNeeds: a running xdpd serving the interface (same --bpffs) with a firewall rule\n"
    "`action: steer` (to: xsk) selecting the traffic, e.g. in the daemon's config:\n"
    "    firewall: {rules: [{id: app, action: steer, proto: udp, dport: 5000}]}\n"
    "The app binds one AF_XDP socket per RX queue, puts it into xdpd's XSKMAP and takes\n"
    "it out on exit (traffic then goes as steer.no_socket says). Per-second stats: rx/tx\n"
    "pps, kernel drops (rx-dropped, rx-ring-full, fill-ring-empty, tx-ring-empty, invalid\n"
    "descriptors); a summary at the end. See docs/afxdp.md, \"Apps\".\n";

}  // namespace

XskCommand::XskCommand(CLI::App& app) {
    xsk_ = app.add_subcommand("xsk", "AF_XDP apps on the traffic xdpd steers to userspace (docs/afxdp.md, Apps):\n"
                                     "  xdpd xsk rxdrop -i IFACE   count and drop (--show-meta N: the xdpd metadata)\n"
                                     "  xdpd xsk l2fwd -i IFACE    swap MACs and send back out of the same queue\n"
                                     "  xdpd xsk echo -i IFACE     UDP echo service on --port (IPv4 and IPv6)");
    xsk_->require_subcommand(1);
    add_app(xskapp::AppKind::rxdrop,
            "Receive and drop what xdpd steers to the interface's queues, counting it (like xdpsock -r).\n"
            "Example:  xdpd xsk rxdrop -i eth0 --show-meta 5 --count 1000");
    add_app(xskapp::AppKind::l2fwd,
            "Swap source and destination MAC of every steered frame and send it back out of the queue it\n"
            "came in on, without copying (like xdpsock -l).\n"
            "Example:  xdpd xsk l2fwd -i eth0 -q 0,1 --cpus 2,3");
    add_app(xskapp::AppKind::echo,
            "UDP echo service in userspace: answers every datagram to --port (IPv4 and IPv6) with the same\n"
            "payload, from the address it was sent to; other steered packets are counted as not-for-me\n"
            "and dropped. Kernel sockets elsewhere talk to it like to any UDP echo server.\n"
            "Example:  xdpd xsk echo -i eth0 --port 5000   (then: echo hi | nc -u SERVER 5000)");
}

void XskCommand::add_app(xskapp::AppKind kind, const std::string& help) {
    CLI::App* a = xsk_->add_subcommand(xskapp::to_string(kind), help + kNeeds);
    a->add_option("-i,--interface", o_.interface, "Interface to serve (xdpd must run on it)")->required();
    a->add_option("-q,--queues", o_.queues, "RX queues, e.g. 0,1 (default: every RX queue of the interface)")
        ->delimiter(',');
    a->add_option("--cpus", o_.cpus, "CPU of each queue's thread, in -q order (default: queue i on the i-th allowed CPU)")
        ->delimiter(',');
    a->add_option("--frame-size", o_.frame_size, "UMEM frame size: 2048 or 4096")
        ->capture_default_str()->check(CLI::IsMember({2048u, 4096u}));
    a->add_option("--frames", o_.frames, "UMEM frames per queue (rings are sized to match)")
        ->capture_default_str()->check(CLI::Range(16u, 1u << 20));
    a->add_option("--batch", o_.batch, "RX descriptors handled per loop")->capture_default_str()->check(CLI::Range(1u, 4096u));
    a->add_flag("--busy-poll{20}", busy_poll_, "Busy-poll the queue (SO_BUSY_POLL usecs, default 20): --busy-poll[=USECS]");
    a->add_flag("--zero-copy", o_.zero_copy, "Ask for zero-copy; copy mode is used (and said) when the driver refuses");
    a->add_flag("--hugepages", o_.hugepages, "UMEM on huge pages (normal pages, and a note, when none are reserved)");
    a->add_option("-d,--duration", o_.duration, "Stop after SECONDS (default: at Ctrl-C / SIGTERM)");
    if (kind == xskapp::AppKind::rxdrop) {
        a->add_option("-c,--count", o_.count, "Stop after N packets (over all queues)");
        a->add_option("--show-meta", o_.show_meta,
                      "Print the xdpd metadata of the first N packets: flow hash, rule (slot), l3/l4, queue");
    }
    if (kind == xskapp::AppKind::echo)
        a->add_option("-p,--port", o_.port, "UDP port answered")->capture_default_str();
    a->add_flag("-j,--json", o_.json, "One JSON object per line: start, per-second samples, summary");
    a->add_flag("--quiet", o_.quiet, "No per-second lines; the summary only");
    apps_.emplace_back(a, kind);
}

int XskCommand::run(const Common& c) {
    for (const auto& [sub, kind] : apps_)
        if (*sub) o_.app = kind;
    o_.bpffs = c.bpffs;
    o_.socket = c.socket;
    if (busy_poll_ >= 0) o_.busy_poll_usecs = busy_poll_;
    o_.json = o_.json || c.json;
    return xskapp::run_app(o_);
}

}  // namespace xdpd::cli
