// run_probe: a client check forked into a namespace whose exit code is 0 or
// an errno (the traffic helpers' convention).
#pragma once
#include <chrono>
#include <functional>
#include <string>

namespace xdpd::net {

class Netns;

// Runs fn in a forked child of ns with its output captured. Returns fn's exit
// code (0 or an errno); ETIMEDOUT if the child is still running 2 s after
// timeout. Exit codes >= 125 (an exception, a signal) become a
// std::runtime_error carrying the child's stderr.
int run_probe(const Netns& ns, std::string label, std::function<int()> fn, std::chrono::milliseconds timeout);

}  // namespace xdpd::net
