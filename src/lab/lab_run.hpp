// `xdpd lab`: the self-contained demo. Builds the namespace lab, sends real
// traffic without and then with xdpd guarding the server, and prints what
// passed, what was dropped and why. Bounded in time; cleans up after itself.
#pragma once
#include <string>

namespace xdpd::lab {

struct LabOptions {
    std::string xdpd_binary;  // the xdpd to run as the daemon
    bool json = false;
    int flood_packets = 5000; // UDP packets the attacker sends
};

// Returns 0 when every probe behaved as the firewall promises, 1 otherwise.
int run_lab(const LabOptions& o);

// `xdpd lab --lb`: the load balancer demo (src/lab/lb_lab_run.cpp). Returns 0
// when every request succeeded, the spread and the failover were as expected.
int run_lb_lab(const LabOptions& o);

}  // namespace xdpd::lab
