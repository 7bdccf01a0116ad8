// Whoami: servers that say who they are, and clients that collect the
// answers, for tests that must know WHICH backend answered (load balancer).
//
// Servers are forked into a namespace and listen on every address of it
// (IPv4 and IPv6, like TcpServer/UdpEchoServer):
//  - WhoamiTcpServer: on accept sends "NAME\n", then echoes what it reads
//    until the peer closes. One process, epoll, any number of connections.
//  - WhoamiUdpServer: answers each datagram with "NAME PAYLOAD", sent from the
//    address the datagram was sent to (a VIP on lo with DSR, say).
//
// Clients run in ONE forked child in the client namespace for a whole batch
// (a fork per request is too slow for the ~1000 requests of a distribution
// test); requests run `parallel` at a time, each with its own timeout.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/process.hpp"
#include "net/server_process.hpp"
#include "net/shared_counter.hpp"
#include "util/fd.hpp"

namespace xdpd::net {

class Netns;

// Requests a whoami client keeps in flight by default.
inline constexpr int kWhoamiParallel = 16;

// A forked TCP whoami server on port (0: any free port, see port()) of every
// address of ns. name: 1..200 characters, no white space (std::invalid_argument
// otherwise). Ready to accept when the constructor returns; stopped (killed
// and reaped) by stop() or the destructor. A killed server's connections are
// closed by the kernel (FIN, RST for data that arrives later).
class WhoamiTcpServer {
public:
    WhoamiTcpServer(const Netns& ns, uint16_t port, std::string name);

    const std::string& name() const { return name_; }
    uint16_t port() const { return server_.port; }
    // Connections accepted so far.
    uint64_t accepted() const { return accepted_.get(); }
    void stop() { server_.process.stop(std::chrono::milliseconds(500)); }
    Process& process() { return server_.process; }

private:
    std::string name_;
    SharedCounter accepted_;  // before server_: the child counts into it
    RunningServer server_;
};

// A forked UDP whoami server: each datagram is answered with
// "NAME PAYLOAD" from the datagram's destination address (IPV6_RECVPKTINFO /
// IPV6_PKTINFO; IP_PKTINFO without IPv6), so a reply to a VIP configured on
// lo comes from the VIP and not from the address the route would pick.
class WhoamiUdpServer {
public:
    WhoamiUdpServer(const Netns& ns, uint16_t port, std::string name);

    const std::string& name() const { return name_; }
    uint16_t port() const { return server_.port; }
    // Datagrams received so far.
    uint64_t received() const { return received_.get(); }
    void stop() { server_.process.stop(std::chrono::milliseconds(500)); }
    Process& process() { return server_.process; }

private:
    std::string name_;
    SharedCounter received_;  // before server_: the child counts into it
    RunningServer server_;
};

// n TCP connections from ns to addr:port, `parallel` at a time; each reads the
// server's name line and closes. Returns the names in connection order, ""
// for a connection that failed; errors (if given) gets 0 or the errno per
// connection: ECONNREFUSED, ETIMEDOUT (no handshake or no name within
// timeout), ECONNRESET (closed before the name), ... Throws
// std::runtime_error (with the child's stderr) when the client child fails.
std::vector<std::string> whoami_tcp_many(const Netns& ns, const std::string& addr, uint16_t port, int n,
                                         std::chrono::milliseconds timeout, std::vector<int>* errors = nullptr,
                                         int parallel = kWhoamiParallel);

// n UDP exchanges from ns to addr:port, each from a fresh socket (a fresh
// source port: a new flow), `parallel` at a time. Request i sends
// "whoami I" and expects "NAME whoami I" back from addr:port. Returns the
// names; errors as above: ETIMEDOUT (no reply), ECONNREFUSED (ICMP port
// unreachable), EBADMSG (another reply), ...
std::vector<std::string> whoami_udp_many(const Netns& ns, const std::string& addr, uint16_t port, int n,
                                         std::chrono::milliseconds timeout, std::vector<int>* errors = nullptr,
                                         int parallel = kWhoamiParallel);

// How often each name occurs ("" counts the failures).
std::map<std::string, int> count_names(const std::vector<std::string>& names);
// "be1: 340, be2: 331, be3: 329" (failures as "failed: N").
std::string describe_names(const std::vector<std::string>& names);
// "none failed" or "3 of 1000 failed: ETIMEDOUT x2, ECONNREFUSED x1".
std::string describe_errors(const std::vector<int>& errors);
// "ETIMEDOUT", "ECONNREFUSED", ..., "0" for 0, the number if unknown.
std::string errno_name(int err);

// k TCP connections from ns to addr:port held open by a forked child, to
// prove that established connections survive (or not) changes elsewhere:
// check() sends a line on each and reports whether it comes back (the
// whoami server echoes). The destructor kills the child, which closes the
// connections (RST/FIN).
class HeldConnections {
public:
    // Opens the connections (`parallel` at a time, timeout each) and reads
    // each one's name line. Failed connections are kept as failed (name "",
    // error set); throws std::runtime_error only if the child fails.
    HeldConnections(const Netns& ns, const std::string& addr, uint16_t port, int k,
                    std::chrono::milliseconds timeout = std::chrono::seconds(2), int parallel = kWhoamiParallel);
    HeldConnections(HeldConnections&&) = default;
    HeldConnections& operator=(HeldConnections&&) = default;
    ~HeldConnections() = default;  // child_ kills the child

    int size() const { return int(names_.size()); }
    // Per connection: the backend name it got at open, "" if it failed.
    const std::vector<std::string>& names() const { return names_; }
    // Per connection: 0 or the errno of the open.
    const std::vector<int>& open_errors() const { return open_errors_; }
    // Connections that opened.
    int opened() const;

    // Sends a fresh line on every connection and waits up to timeout for the
    // echoes. true where it came back. check_errors() gives the errno per
    // connection of this check: ECONNRESET (the server closed or reset it),
    // EPIPE, ETIMEDOUT, ...; for a connection that failed earlier, that
    // earlier error. A connection that failed by an error or EOF is closed
    // and stays false; one that timed out stays open (its echo may come
    // late; later checks skip stale lines) and is tried again next time.
    std::vector<bool> check(std::chrono::milliseconds timeout = std::chrono::seconds(2));
    const std::vector<int>& check_errors() const { return check_errors_; }

    Process& process() { return child_; }

private:
    struct Started {
        UniqueFd control;
        Process child;
    };
    static Started start(const Netns& ns, const std::string& addr, uint16_t port, int k,
                         std::chrono::milliseconds timeout, int parallel);
    HeldConnections(Started s, int k, std::chrono::milliseconds open_wait);

    // Reads lines from the child up to "end"; throws if it dies or is silent
    // until deadline.
    std::vector<std::string> read_reply(std::chrono::steady_clock::time_point deadline, const char* what);

    UniqueFd control_;  // our end of the socketpair
    Process child_;
    std::string inbuf_;
    std::vector<std::string> names_;
    std::vector<int> open_errors_;
    std::vector<int> check_errors_;
};

}  // namespace xdpd::net
