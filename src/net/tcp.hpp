// TCP through the real kernel stack of a namespace: a client probe run in a
// forked child (after setns) and a forked listener.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "net/process.hpp"
#include "net/server_process.hpp"
#include "net/shared_counter.hpp"

namespace xdpd::net {

class Netns;

// Connects from ns to addr:port (IPv4 or IPv6 by the address). Returns 0 on a
// completed handshake, else the errno: ECONNREFUSED (RST back), ETIMEDOUT (no
// answer within timeout), EHOSTUNREACH, ENETUNREACH, ...
int tcp_connect_error(const Netns& ns, const std::string& addr, uint16_t port, std::chrono::milliseconds timeout);

// tcp_connect_error() == 0.
bool tcp_connect(const Netns& ns, const std::string& addr, uint16_t port, std::chrono::milliseconds timeout);

// Connects, sends payload, and expects the same bytes back (a TcpServer in
// echo mode) within timeout.
bool tcp_exchange(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                  std::chrono::milliseconds timeout);

// A listener forked into a namespace, on every address (IPv4 and IPv6) of it.
// Ready to accept when the constructor returns; stopped (killed and reaped) by
// stop() or the destructor.
class TcpServer {
public:
    enum class Mode {
        echo,   // sends back what it reads until the peer closes
        close,  // accepts and closes at once
    };

    // port 0: any free port (see port()). Throws if the child cannot listen.
    TcpServer(const Netns& ns, uint16_t port, Mode mode = Mode::echo);

    uint16_t port() const { return server_.port; }
    // Connections accepted so far.
    uint64_t accepted() const { return accepted_.get(); }
    void stop() { server_.process.stop(std::chrono::milliseconds(500)); }
    // The server child: pid, err() for messages on failure.
    Process& process() { return server_.process; }

private:
    SharedCounter accepted_;  // before server_: the child counts into it
    RunningServer server_;
};

}  // namespace xdpd::net
