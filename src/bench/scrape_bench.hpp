// `xdpd-bench scrape`: how long a Prometheus scrape of the real daemon takes,
// and how big it is, with N firewall rules (N distinct rule ids: two series
// each, packets and bytes).
//
// For each N: a fresh network namespace (PREFIX-ns) holding a veth pair
// (xs0 ── xs1, 10.79.0.1/24 on xs0), the real `xdpd run` in it on xs0 with
// N deny rules on distinct /32 sources (blocked_host(i), ids deny-0 ...) and
// `metrics: {listen: "127.0.0.1:9100"}`; then, from a thread of this process
// inside the namespace, `scrapes` GETs of /metrics one after the other (httplib
// client, a new connection each, no gzip), after `warmup` untimed ones. It
// reports the client's latency (request sent to body received: median, p90,
// max), the body's bytes and series (sample lines), and the daemon's own
// xdpd_scrape_duration_seconds (its render time of the previous scrape, as
// the next scrape reports it). The daemon is stopped, its pins removed and
// the namespace deleted afterwards, also on errors and on Ctrl-C.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xdpd::bench {

struct ScrapeOptions {
    std::vector<size_t> rules{0, 1000, 10000};
    unsigned scrapes = 50;         // timed GETs per rule count
    unsigned warmup = 3;           // untimed GETs first
    std::string xdpd_binary;       // the daemon (default: ../xdpd next to xdpd-bench)
    std::string listen = "127.0.0.1:9100";
    bool verbose = true;
};

struct ScrapeResult {
    size_t rules = 0;
    bool ok = true;
    std::string error;
    double start_s = 0;             // `xdpd run` started -> answering its API
    std::vector<double> latency_ms; // client side, per timed scrape
    std::vector<double> render_ms;  // xdpd_scrape_duration_seconds, as reported by each timed scrape
    size_t bytes = 0, series = 0, families = 0;  // of the last scrape
    double rss_mb = 0;              // process_resident_memory_bytes, last scrape
};

// The config the daemon runs with (exposed for tests and the docs).
std::string scrape_config(size_t rules, const std::string& ifname, const std::string& socket,
                          const std::string& bpffs, const std::string& listen);

std::vector<ScrapeResult> run_scrape(const ScrapeOptions& o);
std::string render_scrape_table(const std::vector<ScrapeResult>& rs, const ScrapeOptions& o);
nlohmann::json render_scrape_json(const std::vector<ScrapeResult>& rs, const ScrapeOptions& o);

// build/bench/xdpd-bench -> build/xdpd when it exists, else "xdpd" (PATH).
std::string default_xdpd_binary();

}  // namespace xdpd::bench
