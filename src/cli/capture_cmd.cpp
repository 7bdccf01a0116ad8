// `xdpd capture`: packets as the data plane decided them (after the verdict,
// drops included) into a pcapng file annotated with verdict, reason, rule,
// interface and queue, or a classic pcap. See docs/capture.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>

#include "api/socket.hpp"
#include "bpf/map.hpp"
#include "capture/filter.hpp"
#include "capture/pcapng.hpp"
#include "capture/session.hpp"
#include "cli/commands.hpp"
#include "stats/names.hpp"

namespace xdpd::cli {
namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// SIGINT/SIGTERM end the capture cleanly (no SA_RESTART: the poll returns);
// a reader that goes away (EPIPE) ends it too, instead of killing us.
void install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

// Attached interfaces, from the pinned xdpd_ifaces (works without the daemon).
std::map<__u32, std::string> attached_interfaces(const std::string& bpffs) {
    std::map<__u32, std::string> out;
    bpf::MapRef m;
    try {
        m = bpf::MapRef::open_pinned(bpffs + "/xdpd_ifaces", "xdpd_ifaces");
    } catch (const SysError&) {
        return out;
    }
    bpf::Map<__u32, xdpd_iface> ifaces(m);
    for (__u32 slot = 0; slot < XDPD_MAX_IFACES; ++slot) {
        auto e = ifaces.lookup(slot);
        if (e && e->ifindex) out[e->ifindex] = std::string(e->name, strnlen(e->name, sizeof e->name));
    }
    return out;
}

struct RuleInfo {
    std::string id;  // may be empty (rules without id)
    std::string action;
    __u32 slot = 0;
};

// The daemon's rules, or nullopt when no daemon answers.
std::optional<std::vector<RuleInfo>> daemon_rules(const std::string& socket) {
    if (!api::reachable(socket)) return std::nullopt;
    std::vector<RuleInfo> out;
    for (const auto& r : api::call(socket, {{"cmd", "rules"}}, 5000))
        out.push_back({r.value("id", ""), r.value("action", ""), r.value("slot", 0u)});
    return out;
}

// Names in annotations: interfaces by ifindex, rules by counter slot.
class Names {
public:
    explicit Names(const Common& c) : c_(c) { refresh(); }

    void refresh() {
        if (auto f = attached_interfaces(c_.bpffs); !f.empty()) ifaces_ = std::move(f);
        try {
            if (auto rules = daemon_rules(c_.socket)) {
                rules_.clear();
                for (const auto& r : *rules)
                    if (!r.id.empty()) rules_[r.slot] = r.id;
            }
        } catch (const std::exception&) {
            // the daemon is reloading or gone: keep the names we had
        }
        at_ = Clock::now();
    }
    void refresh_every(std::chrono::seconds s) {
        if (Clock::now() - at_ >= s) refresh();
    }
    std::string iface(__u32 ifindex) {
        if (auto it = ifaces_.find(ifindex); it != ifaces_.end()) return it->second;
        char buf[IF_NAMESIZE] = {};
        if (if_indextoname(ifindex, buf)) return ifaces_[ifindex] = buf;
        return fmt::format("ifindex{}", ifindex);
    }
    std::string rule(__u32 rule) const {
        if (auto it = rules_.find(rule - 1); it != rules_.end()) return it->second;
        return fmt::format("slot:{}", rule - 1);
    }

private:
    const Common& c_;
    std::map<__u32, std::string> ifaces_;
    std::map<__u32, std::string> rules_;  // slot -> id
    Clock::time_point at_;
};

std::string annotation(const xdpd_capture_hdr& h, Names& names) {
    const std::string verdict =
        h.action < stats::kActionNames.size() ? std::string(stats::kActionNames[h.action]) : std::to_string(h.action);
    const std::string reason =
        h.reason < stats::kReasonNames.size() ? std::string(stats::kReasonNames[h.reason]) : std::to_string(h.reason);
    std::string s = fmt::format("xdpd: verdict={} reason={}", verdict, reason);
    if (h.rule) s += " rule=" + names.rule(h.rule);
    s += fmt::format(" iface={} queue={}", names.iface(h.ifindex), h.rx_queue);
    return s;
}

__u32 resolve_interface(const Common& c, const std::string& name) {
    const auto attached = attached_interfaces(c.bpffs);
    for (const auto& [ifindex, n] : attached)
        if (n == name) return ifindex;
    std::string list;
    for (const auto& [ifindex, n] : attached) list += (list.empty() ? "" : " ") + n;
    throw std::runtime_error(fmt::format("--interface: {} is not attached to the xdpd data plane at {} ({})", name,
                                         c.bpffs, list.empty() ? "no interface is" : "attached: " + list));
}

// --rule: an id, "#N" (the Nth rule as `xdpd rules` lists it) or "slot:N".
// Returns slot + 1, and the rule's id in *id when it has one.
__u32 resolve_rule(const Common& c, const std::string& text, std::string* id) {
    if (text.rfind("slot:", 0) == 0) {
        const std::string n = text.substr(5);
        if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos ||
            std::stoul(n) >= XDPD_FW_MAX_SLOTS)
            throw std::runtime_error(fmt::format("--rule: '{}' is not slot:N with N in 0-{} (`xdpd rules --json` "
                                                 "shows each rule's slot)",
                                                 text, XDPD_FW_MAX_SLOTS - 1));
        return __u32(std::stoul(n)) + 1;
    }
    std::optional<std::vector<RuleInfo>> rules;
    try {
        rules = daemon_rules(c.socket);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("--rule {}: cannot ask the daemon for its rules: {}", text, e.what()));
    }
    if (!rules)
        throw std::runtime_error(fmt::format(
            "--rule {}: rules are known by id only to the daemon, and no daemon answers on {} (start it with "
            "`xdpd run`, or give the rule's counter slot as --rule slot:N)",
            text, c.socket));
    const RuleInfo* hit = nullptr;
    if (text.size() > 1 && text[0] == '#' && text.find_first_not_of("0123456789", 1) == std::string::npos) {
        const size_t n = std::stoul(text.substr(1));
        if (n < rules->size()) hit = &(*rules)[n];
    } else {
        for (const auto& r : *rules)
            if (r.id == text) hit = &r;
    }
    if (!hit) {
        std::string ids;
        for (const auto& r : *rules)
            if (!r.id.empty()) ids += (ids.empty() ? "" : " ") + r.id;
        throw std::runtime_error(fmt::format("--rule: no rule '{}' in the daemon's rule set ({} rules{}; `xdpd rules` "
                                             "lists them, #N picks the Nth)",
                                             text, rules->size(), ids.empty() ? "" : ", ids: " + ids));
    }
    if (hit->action == "count")
        std::cerr << fmt::format("xdpd capture: warning: rule {} is a count rule; packets carry the rule that decided "
                                 "them (allow or deny), so this filter matches nothing\n",
                                 text);
    *id = hit->id;
    return hit->slot + 1;
}

struct Output {
    UniqueFd fd;
    std::string name;
    bool to_stdout = false;
    bool flush_each = false;
};

Output open_output(const std::string& path) {
    Output o;
    const bool tty = isatty(STDOUT_FILENO);
    if (path.empty() || path == "-") {
        if (tty)
            throw std::runtime_error(
                "refusing to write binary capture data to a terminal: give a file (-w drops.pcapng), or pipe it "
                "(xdpd capture -w - | tcpdump -n -r -   or   | tshark -r -)");
        o.fd.reset(dup(STDOUT_FILENO));
        if (!o.fd) throw SysError("dup stdout", errno);
        o.name = "stdout";
        o.to_stdout = true;
    } else {
        o.fd.reset(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!o.fd) throw SysError("open " + path + " for writing", errno);
        o.name = path;
    }
    struct stat st {};
    o.flush_each = fstat(o.fd.get(), &st) != 0 || !S_ISREG(st.st_mode);  // pipes, sockets, devices: live
    return o;
}

}  // namespace

int cmd_capture(const Common& c, const CaptureOptions& o) {
    // Everything that can be refused is checked before the data plane is touched.
    capture::FilterOptions fo{.verdicts = o.verdict, .reasons = o.reason, .host = o.host, .src = o.src,
                              .dst = o.dst, .proto = o.proto, .port = o.port, .sport = o.sport, .dport = o.dport};
    const auto format = o.format == "pcap" ? capture::Format::pcap : capture::Format::pcapng;
    if (o.format != "pcap" && o.format != "pcapng")
        throw std::runtime_error("--format: '" + o.format + "' is not pcapng or pcap");
    if (o.duration < 0) throw std::runtime_error("--duration must be positive (seconds)");
    if (o.sample < 1) throw std::runtime_error("--sample: 1 in N needs N >= 1");
    __u32 snaplen = o.snaplen == 0 ? capture::kMaxSnap : __u32(o.snaplen);
    if (o.snaplen < 0) throw std::runtime_error("--snaplen must be 0 (the most) or a number of bytes");
    if (o.snaplen > long(capture::kMaxSnap)) {
        if (!o.quiet)
            std::cerr << fmt::format("xdpd capture: snap length {} capped to {}, the longest the data plane "
                                     "sends\n",
                                     o.snaplen, capture::kMaxSnap);
        snaplen = capture::kMaxSnap;
    }
    if (!o.iface.empty()) fo.ifindex = resolve_interface(c, o.iface);
    xdpd_capture_filter filter = capture::parse_filter(fo);
    std::string rule_id;
    if (!o.rule.empty()) filter.rule = resolve_rule(c, o.rule, &rule_id);
    std::string what = capture::describe(filter);
    if (!rule_id.empty())
        what = fmt::format("{} (rule {})", what, rule_id);
    if (!o.iface.empty())
        what = fmt::format("{} on {}", what, o.iface);

    install_signals();
    Names names(c);
    std::optional<capture::CaptureWriter> writer;
    capture::Session session(c.bpffs, {.filter = filter, .sample = o.sample, .snaplen = snaplen},
                             [&](const xdpd_capture_hdr& h, std::span<const uint8_t> pkt) {
                                 if (!writer || (o.count && writer->packets() >= o.count)) return;
                                 const std::string note = annotation(h, names);
                                 const std::string ifname = names.iface(h.ifindex);
                                 writer->write({.time_ns = session.realtime_ns(h.time_ns), .ifindex = h.ifindex,
                                                .ifname = ifname, .len = h.len, .data = pkt, .comment = note});
                             });
    Output out = open_output(o.write);
    const std::string out_name = out.name;
    const bool to_stdout = out.to_stdout;
    writer.emplace(std::move(out.fd), out.name, format, snaplen, out.flush_each);
    if (!o.quiet)
        std::cerr << fmt::format("xdpd capture: {}{}, snap {} bytes, from {} -> {} ({}); Ctrl-C to stop\n", what,
                                 o.sample > 1 ? fmt::format(", 1 in {}", o.sample) : "", snaplen, c.bpffs,
                                 out_name, o.format);

    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
    std::string ended = "signal";
    try {
        for (;;) {
            if (g_stop_signal) break;
            if (o.count && writer->packets() >= o.count) {
                ended = "count";
                break;
            }
            const auto now = Clock::now();
            if (o.duration > 0 && now >= deadline) {
                ended = "duration";
                break;
            }
            if (!session.active()) {
                ended = "ended_by_other";
                std::cerr << "xdpd capture: the capture was ended by another process (the daemon ends captures "
                             "whose process it believes gone)\n";
                break;
            }
            int timeout = 200;
            if (o.duration > 0)
                timeout = int(std::min<long>(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          deadline - now).count() + 1));
            session.poll(timeout);
            writer->flush();
            names.refresh_every(std::chrono::seconds(2));
            if (!rule_id.empty()) {  // a reload that removes the rule (or renames it) frees its slot
                if (names.rule(filter.rule) != rule_id) {
                    ended = "rule_gone";
                    std::cerr << fmt::format("xdpd capture: rule {} no longer holds counter slot {} (a reload "
                                             "removed or renamed it): the capture ends\n",
                                             rule_id, filter.rule - 1);
                    break;
                }
            }
        }
        session.stop();
        session.rethrow_error();
        writer->flush();
    } catch (const capture::OutputClosed&) {
        ended = "reader_closed";
        session.stop();
    }
    const auto n = session.counters();
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const uint64_t written = writer->packets();
    const uint64_t sampled_out = n.seen > n.sent + n.lost ? n.seen - n.sent - n.lost : 0;
    const uint64_t not_written = n.sent > written ? n.sent - written : 0;
    if (o.count && written >= o.count) ended = "count";
    if (c.json) {
        const nlohmann::json j = {{"written", written},       {"matched", n.seen},
                                  {"sent", n.sent},           {"sampled_out", sampled_out},
                                  {"lost", n.lost},           {"lost_records", session.lost_records()},
                                  {"not_written", not_written}, {"bad_records", session.bad_records()},
                                  {"file", out_name},         {"format", o.format},
                                  {"bytes", writer->bytes()}, {"seconds", secs},
                                  {"filter", what},           {"sample", o.sample},
                                  {"snaplen", snaplen},       {"ended", ended}};
        (to_stdout ? std::cerr : std::cout) << j.dump() << std::endl;
    } else if (!o.quiet) {
        std::cerr << fmt::format("xdpd capture: {} packets written to {} in {:.1f} s; {} matched the filter, {} "
                                 "sampled out, {} lost (perf buffer full){}\n",
                                 written, out_name, secs, n.seen, sampled_out, n.lost,
                                 not_written ? fmt::format(", {} not written (after --count, or the reader left)",
                                                           not_written)
                                             : "");
    }
    return 0;
}

}  // namespace xdpd::cli
