// xdpd: the command line. `xdpd COMMAND [options]`, in the manner of ip(8) and bpftool(8).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/xsk_cmd.hpp"
#include "daemon/daemon.hpp"
#include "lab/lab_run.hpp"
#include "util/netns.hpp"

int main(int argc, char** argv) {
    using namespace xdpd;
    spdlog::set_default_logger(spdlog::stderr_color_mt("xdpd"));

    CLI::App app{"xdpd: an XDP firewall and packet-processing daemon.\n"
                 "The data plane is an XDP program attached to your interfaces; this command runs the\n"
                 "daemon that programs it (run), checks configs (check) and asks the running daemon\n"
                 "what the data plane does (status, stats, rules). See docs/cli.md.",
                 "xdpd"};
    app.require_subcommand(1);
    cli::Common common;
    app.add_option("--socket", common.socket, "Control socket of the daemon")->capture_default_str();
    app.add_option("--bpffs", common.bpffs, "Where the data plane is pinned (used when no daemon answers)")
        ->capture_default_str();
    std::string netns;
    app.add_option("--netns", netns,
                   "Enter network namespace NAME (/run/netns/NAME) first. Prefer this to `ip netns exec`,\n"
                   "which hides the host's bpffs: pins made there die with the process");

    std::string config;
    daemon::RunOptions run_opts;
    auto* run = app.add_subcommand("run", "Run the daemon in the foreground: attach, program the rules, serve the API.\n"
                                          "SIGHUP or `xdpd reload` reloads the config; SIGTERM exits and leaves the\n"
                                          "data plane running unless daemon.on_exit is detach.");
    run->add_option("-c,--config", run_opts.config_path, "Config file (YAML, see docs/config.md)")->required();
    run->add_flag("--replace", run_opts.replace, "Take over interfaces that run another XDP program");
    run->add_option("--log-level", run_opts.log_level, "trace|debug|info|warn|error (overrides daemon.log_level)");

    auto* check = app.add_subcommand("check", "Validate a config without touching the system; errors name file:line:column");
    check->add_option("-c,--config", config, "Config file")->required();
    check->add_flag("-j,--json", common.json, "Machine-readable output");

    auto* status = app.add_subcommand("status", "Interfaces, attach modes, program and link ids, rule set and map memory");
    status->add_flag("-j,--json", common.json, "Machine-readable output");

    cli::StatsOptions so;
    auto* stats = app.add_subcommand("stats", "Counters per interface: packets and bytes by action, reason and protocol;\n"
                                              "with --interval, rates (pps, bit/s) every interval");
    stats->add_option("-i,--iface", so.iface, "Only this interface");
    stats->add_option("-n,--interval", so.interval, "Seconds between samples (0: print totals once)");
    stats->add_option("-c,--count", so.count, "Stop after this many samples (0: until Ctrl-C)");
    stats->add_flag("-j,--json", common.json, "One JSON object per sample");

    auto* rules = app.add_subcommand("rules", "Firewall rules in order with their hit counters");
    rules->add_flag("-j,--json", common.json, "Machine-readable output");

    auto* reload = app.add_subcommand("reload", "Re-read the daemon's config file; a bad config is rejected and the running one stays");
    reload->add_flag("-j,--json", common.json, "Machine-readable output");

    std::string state;
    auto* monitor = app.add_subcommand("monitor", "Switch monitor mode: deny verdicts are counted but traffic passes");
    monitor->add_option("state", state, "on | off")->required()->check(CLI::IsMember({"on", "off"}));
    monitor->add_flag("-j,--json", common.json, "Machine-readable output");

    cli::ListOptions ban_opts, allow_opts;
    auto* ban = app.add_subcommand("ban", "Ban list of the shield: sources (addresses or prefixes) dropped before the firewall.\n"
                                          "  xdpd ban add PREFIX [--for DURATION] [--reason TEXT]\n"
                                          "  xdpd ban del PREFIX\n"
                                          "  xdpd ban list          (remaining time, hits, who banned it)");
    ban->add_option("op", ban_opts.op, "add | del | list")->required()->check(CLI::IsMember({"add", "del", "list"}));
    ban->add_option("prefix", ban_opts.prefix, "Address or prefix, IPv4 or IPv6 (add, del)");
    ban->add_option("--for", ban_opts.duration, "How long: 90s, 10m, 1h30m, 2d (default: until unbanned)");
    ban->add_option("--reason", ban_opts.reason, "Why, kept with the ban (at most 35 characters)");
    ban->add_flag("-j,--json", common.json, "Machine-readable output");

    auto* allow = app.add_subcommand("allow", "Allow list of the shield: sources never banned or rate-limited\n"
                                              "(the firewall's rules still apply to them).\n"
                                              "  xdpd allow add PREFIX | del PREFIX | list");
    allow->add_option("op", allow_opts.op, "add | del | list")->required()->check(CLI::IsMember({"add", "del", "list"}));
    allow->add_option("prefix", allow_opts.prefix, "Address or prefix, IPv4 or IPv6 (add, del)");
    allow->add_flag("-j,--json", common.json, "Machine-readable output");

    auto* mitigation = app.add_subcommand("mitigation", "Automatic mitigation: each watch's smoothed rates against its thresholds,\n"
                                                        "attacks in progress with their actions and heaviest sources");
    mitigation->add_flag("-j,--json", common.json, "Machine-readable output");
    cli::EventsOptions ev_opts;
    auto* events = app.add_subcommand("events", "Events, oldest first (the daemon keeps the last 1000): attack start and\n"
                                                "end, bans, backends down/up, reloads and rejected reloads, and packets the\n"
                                                "data plane reports (banned, rate-limited, malformed...; events.reasons)");
    events->add_flag("-f,--follow", ev_opts.follow, "Keep printing new events as they happen (Ctrl-C to stop)");
    events->add_flag("-j,--json", common.json, "One JSON object per line");

    cli::LbOptions lb_opts;
    auto* lb = app.add_subcommand("lb", "L4 load balancer (docs/loadbalancer.md):\n"
                                        "  xdpd lb [show]                             services, backends: weight, health, ring share, counters\n"
                                        "  xdpd lb lookup tcp|udp SRC:SPORT VIP:PORT  the backend this flow goes to (runs the real program)\n"
                                        "  xdpd lb weight SERVICE BACKEND WEIGHT      set a weight live (0-1000; 'config' goes back)\n"
                                        "  xdpd lb drain SERVICE BACKEND              weight 0: no new flows, established ones stay\n"
                                        "  xdpd lb undrain SERVICE BACKEND            back to the config's weight\n"
                                        "  xdpd lb add SERVICE ADDR[:PORT] [WEIGHT]   a backend more (health-checked like the others)\n"
                                        "  xdpd lb remove SERVICE ADDR[:PORT]         a backend less: its flows move\n"
                                        "Live changes last until the daemon restarts; put lasting ones in the config.");
    lb->add_option("op", lb_opts.op, "show | lookup | weight | drain | undrain | add | remove")
        ->check(CLI::IsMember({"show", "lookup", "weight", "drain", "undrain", "add", "remove"}));
    lb->add_option("args", lb_opts.args, "The operation's arguments");
    lb->add_flag("-j,--json", common.json, "Machine-readable output");

    // ---- top, metrics ----
    cli::TopOptions top_opts;
    auto* top = app.add_subcommand("top", "Live view, refreshed every second: per-interface rates by action, drops by\n"
                                          "reason, the heaviest sources (sampled in the data plane), bans, attacks.\n"
                                          "q or Ctrl-C quits. --json prints one snapshot");
    top->add_option("-n,--interval", top_opts.interval, "Seconds between refreshes")->capture_default_str()->check(CLI::Range(0.2, 3600.0));
    top->add_option("-c,--count", top_opts.count, "Refresh this many times, then exit (0: until q)");
    top->add_option("--sources", top_opts.sources, "Sources to show (default: metrics.top_sources)");
    top->add_flag("-j,--json", common.json, "One snapshot as JSON (rates over the daemon's last second)");
    auto* metrics = app.add_subcommand("metrics", "Print the Prometheus metrics the daemon serves on metrics.listen\n"
                                                  "(e.g. `xdpd metrics | promtool check metrics`)");
    // ---- end top, metrics ----

    xdpd::lab::LabOptions lab_opts;
    auto* lab = app.add_subcommand("lab", "Demo: client, attacker and server namespaces, xdpd guarding the server,\n"
                                          "real ICMP/TCP/UDP traffic (IPv4 and IPv6) without and with xdpd, and a\n"
                                          "summary of what passed and what was dropped and why. Cleans up; ~15 s");
    lab->add_flag("-j,--json", lab_opts.json, "Machine-readable summary");
    lab->add_option("--flood", lab_opts.flood_packets, "UDP datagrams the attacker sends")->capture_default_str();
    bool lab_lb = false;
    lab->add_flag("--lb", lab_lb, "The load balancer demo instead: a client, the balancer and three backends;\n"
                                  "TCP and UDP through a VIP, spread by weight; a backend dies, health checks\n"
                                  "take it out, established connections to the others carry on. ~10 s");

    // ---- capture (src/cli/capture_cmd.cpp, docs/capture.md) ----
    cli::CaptureOptions cap_opts;
    auto* capture = app.add_subcommand(
        "capture", "Capture packets after the data plane's verdict (drops included) into pcapng, each annotated\n"
                   "with verdict, reason, rule, interface and queue (or classic pcap). Filters combine (AND).\n"
                   "  xdpd capture --verdict drop -w drops.pcapng\n"
                   "  xdpd capture --proto tcp --port 22 -w - | tcpdump -n -r -");
    capture->add_option("-w,--write", cap_opts.write, "File to write; - = stdout (default when stdout is not a terminal)");
    capture->add_option("--format", cap_opts.format, "pcapng (annotated) or pcap (nanosecond, no annotations)")
        ->check(CLI::IsMember({"pcapng", "pcap"}))->capture_default_str();
    capture->add_option("-c,--count", cap_opts.count, "Stop after N packets written");
    capture->add_option("-d,--duration", cap_opts.duration, "Stop after SECONDS");
    capture->add_option("-s,--snaplen", cap_opts.snaplen,
                        "Bytes of each packet (0 or default: the most the data plane sends)")
        ->check(CLI::NonNegativeNumber);
    capture->add_option("--sample", cap_opts.sample, "Write 1 in N of the matching packets")->check(CLI::PositiveNumber);
    capture->add_option("-i,--interface,--iface", cap_opts.iface, "Only packets received on this interface");
    capture->add_option("--verdict", cap_opts.verdict, "Verdicts, comma-separated: drop,pass,tx,redirect,aborted");
    capture->add_option("--reason", cap_opts.reason, "Reasons as `xdpd stats` names them, comma-separated (fw_deny,...), or malformed");
    capture->add_option("--rule", cap_opts.rule, "Packets decided by this firewall rule: its id, #N (as `xdpd rules` numbers them) or slot:N");
    capture->add_option("--host", cap_opts.host, "Source or destination in this address or prefix (IPv4 or IPv6)");
    capture->add_option("--src", cap_opts.src, "Source in this address or prefix");
    capture->add_option("--dst", cap_opts.dst, "Destination in this address or prefix");
    capture->add_option("--proto", cap_opts.proto, "tcp, udp, icmp, icmpv6 or a protocol number");
    capture->add_option("--port", cap_opts.port, "Source or destination port");
    capture->add_option("--sport", cap_opts.sport, "Source port");
    capture->add_option("--dport", cap_opts.dport, "Destination port");
    capture->add_flag("-q,--quiet", cap_opts.quiet, "No banner, no summary");
    capture->add_flag("-j,--json", common.json, "Summary as one JSON object: on stdout, or on stderr when the capture goes to stdout");
    // ---- end capture ----

    cli::XskCommand xsk_cmd(app);  // xsk rxdrop|l2fwd|echo (src/cli/xsk_cmd.cpp)

    app.add_subcommand("detach", "Remove the data plane: detach every program, remove every pin (stops the daemon)");

    CLI11_PARSE(app, argc, argv);
    try {
        if (!netns.empty()) util::enter_netns(netns);
        if (*run) return daemon::run(run_opts);
        if (*check) return cli::cmd_check(common, config);
        if (*status) return cli::cmd_status(common);
        if (*stats) return cli::cmd_stats(common, so);
        if (*rules) return cli::cmd_rules(common);
        if (*reload) return cli::cmd_reload(common);
        if (*monitor) return cli::cmd_monitor(common, state);
        if (*ban || *allow) {
            auto& o = *ban ? ban_opts : allow_opts;
            if (o.op != "list" && o.prefix.empty()) throw std::runtime_error(o.op + " needs a PREFIX");
            return *ban ? cli::cmd_ban(common, o) : cli::cmd_allow(common, o);
        }
        if (*mitigation) return cli::cmd_mitigation(common);
        if (*events) return cli::cmd_events(common, ev_opts);
        if (*top) return cli::cmd_top(common, top_opts);
        if (*metrics) return cli::cmd_metrics(common);
        if (*lb) {
            if (lb_opts.op == "undrain") {
                lb_opts.op = "weight";
                lb_opts.args.push_back("config");
            }
            return cli::cmd_lb(common, lb_opts);
        }
        if (*lab) {
            lab_opts.xdpd_binary = std::filesystem::read_symlink("/proc/self/exe");
            return lab_lb ? xdpd::lab::run_lb_lab(lab_opts) : xdpd::lab::run_lab(lab_opts);
        }
        if (*capture) return cli::cmd_capture(common, cap_opts);  // capture
        if (xsk_cmd.chosen()) return xsk_cmd.run(common);
        if (app.got_subcommand("detach")) return cli::cmd_detach(common);
    } catch (const std::exception& e) {
        std::cerr << "xdpd: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
