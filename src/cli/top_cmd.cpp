// `xdpd top`: a live view, refreshed every interval, of what the data plane
// does: per-interface rates by action, drop reasons, the heaviest sources
// (sampled in the data plane), bans and attacks. Plain text with ANSI clears,
// so it works over SSH; q or Ctrl-C quits and restores the terminal.
// `--json` prints one snapshot. And `xdpd metrics`: the Prometheus text.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "api/socket.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"

namespace xdpd::cli {
namespace {

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// Unbuffered, no-echo keyboard while top runs; restored however it ends.
class RawKeys {
public:
    RawKeys() {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios t = saved_;
        t.c_lflag &= ~tcflag_t(ICANON | ECHO);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    ~RawKeys() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    // Waits up to ms for a key; true when it was q (or Q).
    bool quit_within(int ms) const {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (!active_) {
            poll(nullptr, 0, ms);
            return false;
        }
        if (poll(&p, 1, ms) > 0) {
            char c = 0;
            if (read(STDIN_FILENO, &c, 1) == 1) return c == 'q' || c == 'Q';
        }
        return false;
    }

private:
    termios saved_{};
    bool active_ = false;
};

double rate(const nlohmann::json& actions, const char* a, const char* k) {
    return actions.contains(a) ? actions[a].value(k, 0.0) : 0.0;
}

std::string render(const nlohmann::json& t, const TopOptions& o) {
    std::string out = fmt::format("xdpd top  {}  (every {:.0f} s; q quits)\n\n", local_time(t.value("time", 0.0)),
                                  o.interval);
    out += fmt::format("{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "INTERFACE", "pass/s", "drop/s", "tx/s",
                       "redirect/s", "aborted/s", "bit/s");
    std::vector<std::pair<double, std::string>> reasons;
    for (const auto& i : t["interfaces"]) {
        const auto& a = i["actions"];
        double bps = 0;
        for (const auto& [name, v] : a.items()) bps += v.value("bps", 0.0);
        out += fmt::format("{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", i.value("name", ""),
                           si(rate(a, "pass", "pps")), si(rate(a, "drop", "pps")), si(rate(a, "tx", "pps")),
                           si(rate(a, "redirect", "pps")), si(rate(a, "aborted", "pps")), si(bps));
        const nlohmann::json by_reason = i.value("reasons", nlohmann::json::object());  // named: items() of a temporary dangles
        for (const auto& [reason, verdicts] : by_reason.items())
            for (const auto& [verdict, pps] : verdicts.items())
                if (verdict == "drop")
                    reasons.push_back({pps.get<double>(), fmt::format("{:<16} {}", i.value("name", ""), reason)});
    }
    std::sort(reasons.rbegin(), reasons.rend());
    out += "\nDROPS BY REASON                               pkt/s\n";
    if (reasons.empty()) out += "  (none)\n";
    for (size_t k = 0; k < reasons.size() && k < 8; ++k)
        out += fmt::format("  {:<42} {:>7}\n", reasons[k].second, si(reasons[k].first));

    const unsigned sample = t.value("source_sample", 0u);
    out += fmt::format("\nTOP SOURCES (1 packet in {} sampled){:>14} {:>10} {:>10}\n", sample, "pkt/s", "drop/s",
                       "bit/s");
    if (!sample) out += "  (off: metrics.source_sample is 0)\n";
    else if (t["sources"].empty()) out += "  (none yet)\n";
    for (const auto& s : t["sources"])
        out += fmt::format("  {:<40} {:>10} {:>10} {:>10}\n", s.value("addr", ""), si(s.value("pps", 0.0)),
                           si(s.value("dropped_pps", 0.0)), si(s.value("bps", 0.0)));

    const auto& bans = t["bans"];
    out += fmt::format("\nBANS: {}\n", bans.value("count", 0));
    for (const auto& b : bans["top"])
        out += fmt::format("  {:<40} {:>10} hits  {}\n", b.value("prefix", ""), si(b.value("hits", 0.0)),
                           b.value("reason", ""));
    out += "\nATTACKS: ";
    if (t["attacks"].empty()) out += "none\n";
    else out += "\n";
    for (const auto& a : t["attacks"])
        out += fmt::format("  {:<16} since {}  {} pkt/s  {} SYN/s  {} sources/s\n", a.value("watch", ""),
                           local_time(a.value("since", 0.0)), si(a["rates"].value("pps", 0.0)),
                           si(a["rates"].value("syn_pps", 0.0)), si(a["rates"].value("sources", 0.0)));
    return out;
}

}  // namespace

int cmd_top(const Common& c, const TopOptions& o) {
    const nlohmann::json req = {{"cmd", "top"}, {"sources", o.sources}};
    if (c.json) {
        std::cout << api::call(c.socket, req).dump(2) << std::endl;
        return 0;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    const bool tty = isatty(STDOUT_FILENO);
    RawKeys keys;
    if (tty) std::cout << "\033[?25l";  // hide the cursor
    int shown = 0;
    try {
        while (!g_stop) {
            const std::string screen = render(api::call(c.socket, req), o);
            std::cout << (tty ? "\033[H\033[2J" : "") << screen << std::flush;
            if (o.count && ++shown >= o.count) break;
            if (keys.quit_within(int(o.interval * 1000))) break;
        }
    } catch (...) {
        if (tty) std::cout << "\033[?25h" << std::flush;
        throw;
    }
    if (tty) std::cout << "\033[?25h" << std::flush;
    return 0;
}

int cmd_metrics(const Common& c) {
    std::cout << api::call(c.socket, {{"cmd", "metrics"}}).value("text", "");
    return 0;
}

}  // namespace xdpd::cli
