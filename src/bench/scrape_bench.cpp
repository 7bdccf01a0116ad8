#include "bench/scrape_bench.hpp"

#include <httplib.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/live_topology.hpp"
#include "bench/measure.hpp"
#include "bench/observe_bench.hpp"
#include "bench/rulesets.hpp"
#include "lab/daemon_process.hpp"
#include "net/lab_topology.hpp"
#include "net/link.hpp"
#include "net/netns.hpp"

namespace xdpd::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kBase = "xsc";  // namespace names: xsc<pid><letters>-ns
constexpr const char* kIf = "xs0";

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest-rank percentile of an unsorted sample.
double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t rank = size_t(std::ceil(p * double(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// The value of an unlabelled sample line "NAME VALUE", if present.
std::optional<double> sample_of(const std::string& text, const std::string& name) {
    const std::string key = "\n" + name + " ";
    auto at = text.find(key);
    if (at == std::string::npos) return std::nullopt;
    return std::strtod(text.c_str() + at + key.size(), nullptr);
}

void count_lines(const std::string& text, size_t& series, size_t& families) {
    series = families = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) == 0) ++families;
        if (!line.empty() && line[0] != '#') ++series;
    }
}

// Runs fn on a thread of its own inside ns (setns applies to one thread);
// rethrows what it threw.
template <class Fn>
void in_netns(const net::Netns& ns, Fn fn) {
    std::exception_ptr err;
    std::thread t([&] {
        try {
            NetnsGuard guard(ns);
            fn();
        } catch (...) {
            err = std::current_exception();
        }
    });
    t.join();
    if (err) std::rethrow_exception(err);
}

// One GET /metrics on a fresh connection; the body, or throws.
std::string get_metrics(const std::string& host, int port) {
    httplib::Client cli(host, port);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(30, 0);
    auto res = cli.Get("/metrics");
    if (!res) throw std::runtime_error("GET /metrics: " + httplib::to_string(res.error()));
    if (res->status != 200) throw std::runtime_error(fmt::format("GET /metrics: HTTP {}: {}", res->status, res->body));
    return res->body;
}

void scrape_one(const ScrapeOptions& o, ScrapeResult& r) {
    auto progress = [&](const std::string& s) {
        if (o.verbose) std::fprintf(stderr, "xdpd-bench scrape: %s\n", s.c_str());
    };
    const std::string prefix = net::unique_prefix(kBase);
    net::Netns ns = net::Netns::create(prefix + "-ns");
    net::veth_pair(&ns, kIf, &ns, "xs1");
    net::add_addr(&ns, kIf, "10.79.0.1/24");
    net::link_up(&ns, kIf);
    net::link_up(&ns, "xs1");
    net::wait_link_up(&ns, kIf);

    lab::ScratchDataPlane scratch(o.xdpd_binary, ns.name(), lab::DaemonPaths::for_name(ns.name()));
    const auto& p = scratch.paths();
    std::ofstream(p.config) << scrape_config(r.rules, kIf, p.socket, p.bpffs, o.listen);
    const auto t0 = Clock::now();
    lab::DaemonProcess daemon(o.xdpd_binary, ns.name(), p, {}, std::chrono::seconds(120));
    r.start_s = ms(Clock::now() - t0) / 1000;
    progress(fmt::format("{} rules: daemon up in {:.1f} s (namespace {})", r.rules, r.start_s, ns.name()));

    const auto colon = o.listen.rfind(':');
    const std::string host = o.listen.substr(0, colon);
    const int port = std::stoi(o.listen.substr(colon + 1));
    in_netns(ns, [&] {
        // The endpoint starts with the first apply; wait for it.
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        for (unsigned done = 0; done < o.warmup;) {
            throw_if_interrupted();
            try {
                get_metrics(host, port);
                ++done;
            } catch (const std::runtime_error&) {
                if (Clock::now() > deadline) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        std::string body;
        for (unsigned i = 0; i < o.scrapes; ++i) {
            throw_if_interrupted();
            const auto s0 = Clock::now();
            body = get_metrics(host, port);
            r.latency_ms.push_back(ms(Clock::now() - s0));
            if (auto v = sample_of(body, "xdpd_scrape_duration_seconds")) r.render_ms.push_back(*v * 1000);
        }
        r.bytes = body.size();
        count_lines(body, r.series, r.families);
        if (auto v = sample_of(body, "process_resident_memory_bytes")) r.rss_mb = *v / 1048576;
        const std::string want = r.rules ? "xdpd_rule_packets_total{rule=\"deny-" + std::to_string(r.rules - 1) + "\"" : "";
        if (!want.empty() && body.find(want) == std::string::npos)
            throw std::runtime_error("the scrape has no series for rule deny-" + std::to_string(r.rules - 1));
    });
    daemon.stop();
    // scratch removes the pins, ns the namespace (in that order: reverse of construction)
}

}  // namespace

std::string scrape_config(size_t rules, const std::string& ifname, const std::string& socket,
                          const std::string& bpffs, const std::string& listen) {
    std::string c = fmt::format(R"(# xdpd-bench scrape: {} deny rules on distinct /32 sources
interfaces:
  - name: {}
    mode: auto
firewall:
  default: allow
)",
                                rules, ifname);
    if (rules) {
        c += "  rules:\n";
        for (size_t i = 0; i < rules; ++i)
            c += fmt::format("    - id: deny-{}\n      action: deny\n      src: {}/32\n", i, blocked_host(i));
    }
    c += fmt::format(R"(metrics:
  listen: "{}"
daemon:
  socket: {}
  bpffs: {}
  on_exit: detach
)",
                     listen, socket, bpffs);
    return c;
}

std::vector<ScrapeResult> run_scrape(const ScrapeOptions& o) {
    net::Lab::cleanup_orphans(kBase);  // what a crashed run left
    std::vector<ScrapeResult> out;
    for (size_t n : o.rules) {
        ScrapeResult r;
        r.rules = n;
        try {
            scrape_one(o, r);
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            r.ok = false;
            r.error = e.what();
            if (o.verbose) std::fprintf(stderr, "xdpd-bench scrape: %zu rules: error: %s\n", n, e.what());
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::string render_scrape_table(const std::vector<ScrapeResult>& rs, const ScrapeOptions& o) {
    std::string out;
    auto line = [&](const std::string& s) { out += s + "\n"; };
    line(fmt::format("xdpd-bench scrape: GET http://{}/metrics from inside the daemon's namespace, {} timed scrapes "
                     "back to back (after {} untimed), a new connection each",
                     o.listen, o.scrapes, o.warmup));
    line("");
    const std::string head = fmt::format("{:>6} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>9} {:>8} {:>7}", "rules",
                                         "med ms", "p90 ms", "max ms", "bytes", "series", "render ms", "render mx",
                                         "start s", "RSS MB");
    line(head);
    line(std::string(head.size(), '-'));
    for (const auto& r : rs) {
        if (!r.ok) {
            line(fmt::format("{:>6}  error: {}", r.rules, r.error));
            continue;
        }
        const Summary rend = summarize(r.render_ms);
        line(fmt::format("{:>6} {:>8.2f} {:>8.2f} {:>8.2f} {:>9} {:>7} {:>9.2f} {:>9.2f} {:>8.1f} {:>7.1f}", r.rules,
                         percentile(r.latency_ms, 0.5), percentile(r.latency_ms, 0.9),
                         percentile(r.latency_ms, 1.0), r.bytes, r.series, rend.median, rend.max, r.start_s,
                         r.rss_mb));
    }
    line("");
    line("med/p90/max ms: the client's time from request to the whole body (nearest rank); bytes, series (sample");
    line("lines): the last scrape's body; render ms: the daemon's xdpd_scrape_duration_seconds (its render time of");
    line("the previous scrape), median and max; start s: `xdpd run` to answering its API; RSS: the daemon's.");
    return out;
}

nlohmann::json render_scrape_json(const std::vector<ScrapeResult>& rs, const ScrapeOptions& o) {
    using nlohmann::json;
    json j;
    j["tool"] = "xdpd-bench scrape";
    j["listen"] = o.listen;
    j["scrapes"] = o.scrapes;
    j["warmup"] = o.warmup;
    j["method"] = "GET /metrics from a thread in the daemon's namespace, back to back, new connection each, no gzip";
    json cases = json::array();
    for (const auto& r : rs) {
        json c = {{"rules", r.rules}, {"ok", r.ok}};
        if (!r.ok) {
            c["error"] = r.error;
        } else {
            const Summary rend = summarize(r.render_ms);
            c["latency_ms"] = {{"median", percentile(r.latency_ms, 0.5)},
                               {"p90", percentile(r.latency_ms, 0.9)},
                               {"max", percentile(r.latency_ms, 1.0)},
                               {"all", r.latency_ms}};
            c["daemon_render_ms"] = {{"median", rend.median}, {"max", rend.max}, {"all", r.render_ms}};
            c["bytes"] = r.bytes;
            c["series"] = r.series;
            c["families"] = r.families;
            c["daemon_start_s"] = r.start_s;
            c["daemon_rss_mb"] = r.rss_mb;
        }
        cases.push_back(c);
    }
    j["cases"] = cases;
    return j;
}

std::string default_xdpd_binary() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto p = self.parent_path().parent_path() / "xdpd";  // build/bench/xdpd-bench -> build/xdpd
        if (std::filesystem::exists(p)) return p.string();
    }
    return "xdpd";
}

}  // namespace xdpd::bench
