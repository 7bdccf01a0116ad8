#include "net/udp.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>

#include "net/netns.hpp"
#include "net/probe.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using Clock = std::chrono::steady_clock;

// In the child: one datagram out, one back. 0 or an errno.
int round_trip(const SocketAddr& to, const std::string& payload, Clock::time_point deadline) {
    UniqueFd fd(socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return errno;
    // Connected, so an ICMP port unreachable comes back as ECONNREFUSED.
    if (connect(fd.get(), to.get(), to.len) != 0) return errno;
    if (send(fd.get(), payload.data(), payload.size(), 0) < 0) return errno;
    std::string buf(payload.size() + 1, '\0');
    for (;;) {
        pollfd pfd{fd.get(), POLLIN, 0};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return ETIMEDOUT;
        ssize_t r = recv(fd.get(), buf.data(), buf.size(), 0);
        if (r < 0) return errno;
        return std::string_view(buf.data(), size_t(r)) == payload ? 0 : EBADMSG;
    }
}

// The server's loop: counts and echoes every datagram. Never returns.
int serve(int fd, const SharedCounter& received) {
    char buf[65536];
    for (;;) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t r = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw SysError("recvfrom", errno);
        }
        received.add();
        sendto(fd, buf, size_t(r), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
}

}  // namespace

int udp_exchange_error(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                       std::chrono::milliseconds timeout) {
    SocketAddr to = make_sockaddr(addr, port);
    return run_probe(
        ns, fmt::format("udp_exchange {} port {}", addr, port),
        [&] { return round_trip(to, payload, Clock::now() + timeout); }, timeout);
}

bool udp_exchange(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                  std::chrono::milliseconds timeout) {
    return udp_exchange_error(ns, addr, port, payload, timeout) == 0;
}

UdpEchoServer::UdpEchoServer(const Netns& ns, uint16_t port)
    : server_(start_server(ns, fmt::format("udp echo server port {}", port),
                           [port, &counter = received_](const ReadyFn& ready) {
                               uint16_t bound = 0;
                               UniqueFd fd = bind_any(SOCK_DGRAM, port, bound);
                               ready(bound);
                               return serve(fd.get(), counter);
                           })) {}

}  // namespace xdpd::net
