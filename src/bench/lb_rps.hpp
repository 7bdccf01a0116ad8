// xdpd-livebench --lb-rps: TCP connections per second through the load
// balancer's VIP against the same backends reached directly, in one run.
//
// The LB lab (src/net/lb_lab.hpp: client, LB host, three backends on one
// switch). Every backend runs two whoami TCP servers (src/net/whoami.hpp):
// port 8080 behind the VIP, port 8081 for direct connections. A request is
// one TCP connection from the client: connect, read the backend's name line,
// close; `parallel` of them in flight at a time, in one client process.
//   direct, no xdpd:  client -> 10.78.0.1x:8081, routed by the LB host's kernel
//                     (no XDP program on lb0)
//   direct, xdpd:     the same with xdpd running on lb0 (the packets are not
//                     the LB's: XDP passes them to the kernel, which routes)
//   VIP (NAT):        client -> 10.99.0.1:80, xdpd balances in XDP (NAT to
//                     :8080, replies rewritten back), XDP_TX both ways
// and the same over IPv6 (fd78::1x, fd99::1). Direct rows spread their
// connections over the three backends (one client process per backend,
// parallel/3 each), so every row keeps all three servers busy. Each row is
// measured `rounds` times, rows interleaved (every round starts xdpd and
// detaches it again); the median is reported.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/report.hpp"

namespace xdpd::bench {

struct LbRpsOptions {
    std::string xdpd_binary;
    int connections = 12000;  // per measurement
    int parallel = 48;        // in flight
    int rounds = 5;
    bool ipv6 = true;
    std::chrono::milliseconds timeout{5000};  // per connection
    bool verbose = true;
};

struct LbRpsRow {
    std::string path, target;
    std::vector<double> rates;  // connections/s, one per round
    int ok = 0, failed = 0;     // over all rounds
    std::map<std::string, int> per_backend;
    std::string errors;  // describe_errors of the failures, if any
    double median() const;
};

struct LbRpsRun {
    std::vector<LbRpsRow> rows;
    std::vector<std::string> notes;
};

LbRpsRun run_lb_rps(const LbRpsOptions& o);
std::string render_lb_rps(const RunInfo& info, const LbRpsRun& run, const LbRpsOptions& o);
nlohmann::json render_lb_rps_json(const RunInfo& info, const LbRpsRun& run, const LbRpsOptions& o);

}  // namespace xdpd::bench
