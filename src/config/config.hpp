// The daemon's configuration: the model a YAML file is read into, and the
// loader that reads, checks and reports every mistake in it with its position.
// The schema is documented in docs/config.md.
#pragma once
#include <linux/types.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fw/rule.hpp"
#include "shield/limits.hpp"
#include "xdpd/abi.h"

namespace xdpd::config {

// How the XDP program is attached to an interface. `automatic` ("auto" in
// YAML) lets the attacher try native first and fall back to skb.
enum class AttachMode { native, skb, hw, automatic };

const char* to_string(AttachMode m);  // "native", "skb", "hw", "auto"

struct InterfaceConfig {
    std::string name;
    AttachMode mode = AttachMode::automatic;
    std::string origin;  // "file:line" where the interface was listed
};

// A ban written in the config: kept in force by every apply; its duration
// runs from the first time it was applied.
struct BanConfig {
    fw::Cidr prefix;
    std::optional<std::chrono::seconds> duration;  // none: until removed from the config
    std::string reason;
    std::string origin;  // "file:line"
};

// shield: allow list, bans, rate-limit profiles (named by allow rules).
struct ShieldConfig {
    bool enabled = true;  // the stage costs nothing while both lists are empty
    std::vector<fw::Cidr> allow;
    std::vector<BanConfig> bans;
    std::vector<shield::LimitProfile> limits;
};

// syncookies: SYNs to these TCP ports are answered in XDP with SYN cookies,
// netfilter SYNPROXY completes the handshake (docs/syncookies.md).
struct SyncookieConfig {
    bool enabled = false;         // true when the section is present unless enabled: false
    bool automatic = false;       // mode: auto -- only where mitigation switches them on
    std::vector<uint16_t> ports;  // 1..XDPD_SYNCOOKIE_MAX_PORTS, no duplicates
    uint16_t mss = 1460;          // MSS advertised to IPv4 clients
    uint16_t mss6 = 1440;         // ... to IPv6 clients (default: mss - 20)
    uint8_t wscale = 7;           // window scale advertised: must be the service's
    uint8_t ttl = 64;             // TTL / hop limit of the SYN-ACKs
    std::string origin;           // "file:line" of the section
};

// mitigation: automatic DDoS mitigation (docs/mitigation.md). The daemon
// smooths per-watch rates (EWMA), detects an attack when one crosses its
// threshold, escalates with the watch's actions, and de-escalates after the
// rates stayed below every threshold for `cooldown`.
struct Thresholds {
    std::optional<double> pps, bps, syn_pps, udp_pps, icmp_pps, sources;  // per second
    bool any() const { return pps || bps || syn_pps || udp_pps || icmp_pps || sources; }
};

struct MitigationActions {
    std::optional<std::string> limit;      // rate-limit profile for all traffic to the watch
    std::optional<__u32> limit_index;      // ... its position in shield.limits (resolved)
    std::optional<bool> syncookies;        // switch XDP SYN cookies on (syncookies.mode: auto)
    std::optional<unsigned> ban_top;       // ban at most this many sources per second ...
    std::optional<double> ban_over_pps;    // ... of those sending more than this ...
    std::optional<std::chrono::seconds> ban_for;  // ... for this long
};

struct WatchConfig {
    std::string name;                 // "default" is the watch of all other destinations
    std::vector<fw::Cidr> prefixes;   // destinations
    Thresholds thresholds;            // unset fields fall back to mitigation.thresholds
    MitigationActions actions;        // unset fields fall back to mitigation.actions
    std::string origin;               // "file:line"
};

struct MitigationConfig {
    bool enabled = false;  // true when the section is present unless enabled: false
    std::chrono::seconds smoothing{3};  // EWMA time constant
    std::chrono::seconds cooldown{30};  // quiet time before an attack is declared over
    unsigned sample = 16;               // under attack, 1 packet in N counts towards top sources
    std::string hook;                   // command run on attack start and end (/bin/sh -c)
    Thresholds thresholds;              // defaults, and those of the default watch
    MitigationActions actions;
    std::vector<WatchConfig> watches;   // [0] is "default"; then the listed ones, in order
    std::string origin;

    // The watch's thresholds and actions with the defaults filled in.
    Thresholds thresholds_of(size_t watch) const;
    MitigationActions actions_of(size_t watch) const;
};

// lb: the L4 load balancer (docs/loadbalancer.md). Each service is a VIP
// (address, protocol, port or all ports) with weighted backends, picked by a
// Maglev ring; NAT rewrites destination (and replies), DSR only MACs.
struct LbHealthConfig {
    std::string type = "tcp";             // tcp | http | udp | none (default: tcp for TCP, none for UDP)
    std::chrono::milliseconds interval{2000}, timeout{1000};
    unsigned rise = 2, fall = 3;
    uint16_t port = 0;                     // 0: the backend's port
    std::string path = "/";                // http
    int status = 200;                      // http: expected status
    std::string host;                      // http: Host header (default: the address)
    std::string payload = "xdpd-health";   // udp: datagram sent
    std::string expect;                    // udp: the reply must contain this
};

struct LbBackendConfig {
    fw::Cidr addr;          // a host address (/32, /128)
    uint16_t port = 0;      // 0: the packet's port (all-port services, DSR)
    unsigned weight = 1;    // 0: draining, no new flows
    std::string origin;     // "file:line"
    std::string id() const; // "10.78.0.11:8080", "[fd78::11]:8080": the Maglev identity
};

struct LbServiceConfig {
    std::string name;
    fw::Cidr vip;           // a host address
    uint8_t proto = 6;      // IPPROTO_TCP or IPPROTO_UDP
    uint16_t port = 0;      // 0: all ports
    bool dsr = false;       // mode: dsr (else nat)
    LbHealthConfig health;
    std::vector<LbBackendConfig> backends;
    std::string origin;
};

struct LbConfig {
    bool enabled = false;   // true when the section is present unless enabled: false
    std::chrono::seconds udp_timeout{30};  // idle UDP flows re-hash after this
    uint32_t new_flow_limit = 0;           // flows inserted per second per CPU; 0: no limit
    std::vector<LbServiceConfig> services;
    std::string origin;
    bool any_nat() const;
};

// steer: where `steer` rules send packets (docs/steering.md).
struct SteerConfig {
    std::vector<__u32> cpus;         // `to: cpu` rules without `cpu:` spread flows over these;
                                     // default (and after loading): all online CPUs
    bool cpus_set = false;           // cpus given in the file
    __u32 queue_size = 2048;         // CPUMAP entry queue (packets), 1-16384
    __u32 no_socket = XDPD_ACT_PASS; // `to: xsk` and no socket on the queue: XDPD_ACT_PASS or DROP
    std::string origin;              // "file:line" of the section; empty: not in the file

    // The load-time switch: does any rule of `rules` steer?
    static bool any(const fw::RuleSet& rules);
};

// The CPUs online now (/sys/devices/system/cpu/online), ascending.
std::vector<__u32> online_cpus();

// metrics: and events: (docs/observability.md).
struct ObserveConfig {
    std::string metrics_listen = ":9100";  // HOST:PORT, :PORT, [V6]:PORT; empty = off
    unsigned top_sources = 10;             // per-source series in metrics and `xdpd top`
    unsigned source_sample = 64;           // 1 in N packets per CPU feed the top-sources table (power of 2; 0 = off)
    unsigned event_rate = 20;              // data-plane events per second per CPU
    uint64_t event_reasons = 0;            // bit per enum xdpd_reason; set from the defaults below
    bool event_reasons_set = false;        // events.reasons given (else the defaults)
};

// Reasons that raise a data-plane event unless events.reasons says otherwise.
uint64_t default_event_reasons();

struct DaemonConfig {
    std::string socket = "/run/xdpd/xdpd.sock";
    std::string bpffs = "/sys/fs/bpf/xdpd";
    // JSON-lines file that keeps the event log across restarts; "" = derived
    // from the socket (event_log_path()), "off" = memory only.
    std::string event_log;
    bool detach_on_exit = false;     // YAML on_exit: keep | detach (default keep)
    std::string log_level = "info";  // trace | debug | info | warn | error
};

// Where the daemon keeps its event log: daemon.event_log, or beside the socket
// (/run/xdpd/xdpd.sock -> /run/xdpd/xdpd.events.jsonl); empty when "off".
std::string event_log_path(const DaemonConfig& d);

// One message about the config, positioned at the offending YAML node.
// line and column are 1-based; 0 means "no position" (e.g. unreadable file).
struct Diagnostic {
    std::string file;
    int line = 0, column = 0;
    std::string message;
    bool warning = false;

    // "file:line:col: error: message" (or "warning:"); without a position
    // "file: error: message".
    std::string str() const;
};

struct Config {
    std::string path;  // file (or name) it came from
    std::vector<InterfaceConfig> interfaces;
    __u32 malformed_action = XDPD_ACT_DROP;  // parser.malformed: drop | pass
    bool firewall_enabled = false;  // true when a firewall section is present unless enabled: false
    bool monitor = false;           // firewall.monitor
    fw::RuleSet rules;              // rule.origin = "file:line"
    ShieldConfig shield;
    SyncookieConfig syncookies;
    MitigationConfig mitigation;
    LbConfig lb;
    SteerConfig steer;
    ObserveConfig observe;
    DaemonConfig daemon;
    std::vector<Diagnostic> warnings;  // the config is valid, but probably not what was meant
};

// A config that cannot be used. `diagnostics` holds every error found (not
// only the first), sorted by position; what() is their str() joined by '\n'.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<Diagnostic> diags);
    std::vector<Diagnostic> diagnostics;
};

// "90s", "10m", "1h30m", "2d" or plain seconds: a positive duration, or nullopt.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// Reads and validates a config file. Throws ConfigError, also when the file
// cannot be read ("path: error: cannot read: <strerror>").
Config load_file(const std::string& path);

// Same for YAML text; `name` stands for the file name in positions and origins.
Config load_string(const std::string& yaml, const std::string& name = "<config>");

}  // namespace xdpd::config
