// start_server: a forked server in a namespace that reports when it listens.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "net/process.hpp"

namespace xdpd::net {

class Netns;

// Called by the server body once its socket takes traffic, with its port.
using ReadyFn = std::function<void(uint16_t port)>;

struct RunningServer {
    Process process;
    uint16_t port;
};

// Forks body into ns. body sets up its socket, calls ready(port), then serves
// until killed. Returns once ready was called; throws std::runtime_error with
// the child's stderr if it exits or stays silent for timeout instead.
RunningServer start_server(const Netns& ns, std::string label, std::function<int(const ReadyFn&)> body,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace xdpd::net
