// UDP through the real kernel stack of a namespace: a request/reply probe run
// in a forked child (after setns) and a forked echo server.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "net/process.hpp"
#include "net/server_process.hpp"
#include "net/shared_counter.hpp"

namespace xdpd::net {

class Netns;

// Sends payload once from ns to addr:port (IPv4 or IPv6 by the address) and
// waits for the same bytes back. Returns 0, or the errno: ETIMEDOUT (no
// reply), ECONNREFUSED (ICMP port unreachable), EBADMSG (other bytes), ...
int udp_exchange_error(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                       std::chrono::milliseconds timeout);

// udp_exchange_error() == 0.
bool udp_exchange(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                  std::chrono::milliseconds timeout);

// A UDP echo server forked into a namespace, on every address (IPv4 and IPv6)
// of it: each datagram goes back to its sender. Ready when the constructor
// returns; stopped by stop() or the destructor.
class UdpEchoServer {
public:
    // port 0: any free port (see port()). Throws if the child cannot bind.
    UdpEchoServer(const Netns& ns, uint16_t port);

    uint16_t port() const { return server_.port; }
    // Datagrams received so far.
    uint64_t received() const { return received_.get(); }
    void stop() { server_.process.stop(std::chrono::milliseconds(500)); }
    Process& process() { return server_.process; }

private:
    SharedCounter received_;  // before server_: the child counts into it
    RunningServer server_;
};

}  // namespace xdpd::net
