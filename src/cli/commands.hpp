// The xdpd subcommands. main.cpp parses the command line; each function here
// does one subcommand and returns the process exit code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xdpd::cli {

struct Common {
    std::string socket = "/run/xdpd/xdpd.sock";
    std::string bpffs = "/sys/fs/bpf/xdpd";
    bool json = false;
};

int cmd_check(const Common& c, const std::string& config);
int cmd_status(const Common& c);
struct StatsOptions {
    std::string iface;   // empty: all
    double interval = 0; // seconds; 0: one snapshot of totals
    int count = 0;       // 0: until interrupted (with interval)
};
int cmd_stats(const Common& c, const StatsOptions& o);
int cmd_rules(const Common& c);
int cmd_reload(const Common& c);
int cmd_monitor(const Common& c, const std::string& state);
int cmd_detach(const Common& c);

struct ListOptions {
    std::string op;      // add | del | list
    std::string prefix;  // add, del
    std::string duration;  // ban add: "10m", "1h"; empty: until unbanned
    std::string reason;    // ban add
};
int cmd_ban(const Common& c, const ListOptions& o);

int cmd_mitigation(const Common& c);
struct EventsOptions {
    bool follow = false;  // keep printing new events
};
int cmd_events(const Common& c, const EventsOptions& o);
int cmd_allow(const Common& c, const ListOptions& o);

// top, metrics (src/cli/top_cmd.cpp)
struct TopOptions {
    double interval = 1;  // seconds between refreshes
    int count = 0;        // refreshes, then exit; 0: until q or Ctrl-C
    size_t sources = 0;   // top sources shown; 0: the daemon's metrics.top_sources
};
int cmd_top(const Common& c, const TopOptions& o);
int cmd_metrics(const Common& c);

struct LbOptions {
    std::string op = "show";        // show | lookup | weight | drain | undrain
    std::vector<std::string> args;  // the operation's arguments
};
int cmd_lb(const Common& c, const LbOptions& o);

// ---- capture (src/cli/capture_cmd.cpp, docs/capture.md) ----------------------
struct CaptureOptions {
    std::string write;              // -w: file, "-" = stdout; empty: stdout unless it is a terminal
    std::string format = "pcapng";  // pcapng | pcap
    uint64_t count = 0;             // stop after N packets written; 0: no limit
    double duration = 0;            // stop after N seconds; 0: no limit
    long snaplen = 0;               // bytes per packet; 0: the most (capture::kMaxSnap)
    uint32_t sample = 1;            // 1 in N matching packets
    std::string iface;              // only this attached interface
    std::string verdict, reason, rule, host, src, dst, proto, port, sport, dport;  // filters (empty: any)
    bool quiet = false;             // no banner, no summary (errors still go to stderr)
};
int cmd_capture(const Common& c, const CaptureOptions& o);
// ---- end capture --------------------------------------------------------------

}  // namespace xdpd::cli
