#include "net/tcp.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "net/netns.hpp"
#include "net/probe.hpp"
#include "net/server_process.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using Clock = std::chrono::steady_clock;

// In the child: a connected TCP socket to `to`, or errno in err.
UniqueFd connect_socket(const SocketAddr& to, Clock::time_point deadline, int& err) {
    UniqueFd fd(socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        err = errno;
        return fd;
    }
    if (connect(fd.get(), to.get(), to.len) != 0) {
        if (errno != EINPROGRESS) {
            err = errno;
            return {};
        }
        pollfd pfd{fd.get(), POLLOUT, 0};
        int n;
        while ((n = poll(&pfd, 1, ms_left(deadline))) < 0 && errno == EINTR) {
        }
        if (n <= 0) {
            err = n == 0 ? ETIMEDOUT : errno;
            return {};
        }
        socklen_t len = sizeof err;
        if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err) return {};
    }
    err = 0;
    return fd;
}

// Sends payload and reads the same number of bytes back; 0 or an errno
// (EBADMSG: different bytes, ECONNRESET/EPIPE: peer closed).
int echo_round_trip(int fd, const std::string& payload, Clock::time_point deadline) {
    size_t sent = 0;
    std::string back;
    char buf[4096];
    while (back.size() < payload.size()) {
        short events = POLLIN | (sent < payload.size() ? POLLOUT : 0);
        pollfd pfd{fd, events, 0};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return ETIMEDOUT;
        if ((pfd.revents & POLLOUT) && sent < payload.size()) {
            ssize_t w = send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) return errno;
            if (w > 0) sent += size_t(w);
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0 && errno != EAGAIN) return errno;
            if (r == 0) return ECONNRESET;
            if (r > 0) back.append(buf, size_t(r));
        }
    }
    return back == payload ? 0 : EBADMSG;
}

// The listener's loop: accepts, counts, echoes or closes. Never returns.
int serve(int lfd, TcpServer::Mode mode, const SharedCounter& accepted) {
    std::vector<pollfd> fds{{lfd, POLLIN, 0}};
    char buf[65536];
    for (;;) {
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw SysError("poll", errno);
        }
        for (size_t i = fds.size(); i-- > 1;) {
            if (!fds[i].revents) continue;
            ssize_t r = recv(fds[i].fd, buf, sizeof buf, 0);
            bool done = r <= 0;
            for (ssize_t off = 0; !done && off < r;) {
                ssize_t w = send(fds[i].fd, buf + off, size_t(r - off), MSG_NOSIGNAL);
                if (w <= 0) done = true;
                off += w;
            }
            if (done) {
                ::close(fds[i].fd);
                fds.erase(fds.begin() + ptrdiff_t(i));
            }
        }
        if (fds[0].revents & POLLIN) {
            int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            accepted.add();
            if (mode == TcpServer::Mode::close) {
                ::close(c);
            } else {
                fds.push_back({c, POLLIN, 0});
            }
        }
    }
}

}  // namespace

int tcp_connect_error(const Netns& ns, const std::string& addr, uint16_t port, std::chrono::milliseconds timeout) {
    SocketAddr to = make_sockaddr(addr, port);
    return run_probe(
        ns, fmt::format("tcp_connect {} port {}", addr, port),
        [to, timeout] {
            int err = 0;
            connect_socket(to, Clock::now() + timeout, err);
            return err;
        },
        timeout);
}

bool tcp_connect(const Netns& ns, const std::string& addr, uint16_t port, std::chrono::milliseconds timeout) {
    return tcp_connect_error(ns, addr, port, timeout) == 0;
}

bool tcp_exchange(const Netns& ns, const std::string& addr, uint16_t port, const std::string& payload,
                  std::chrono::milliseconds timeout) {
    SocketAddr to = make_sockaddr(addr, port);
    int err = run_probe(
        ns, fmt::format("tcp_exchange {} port {}", addr, port),
        [to, timeout, &payload] {
            auto deadline = Clock::now() + timeout;
            int err = 0;
            UniqueFd fd = connect_socket(to, deadline, err);
            return err ? err : echo_round_trip(fd.get(), payload, deadline);
        },
        timeout);
    return err == 0;
}

TcpServer::TcpServer(const Netns& ns, uint16_t port, Mode mode)
    : server_(start_server(ns, fmt::format("tcp server port {}", port),
                           [port, mode, &counter = accepted_](const ReadyFn& ready) {
                               uint16_t bound = 0;
                               UniqueFd lfd = bind_any(SOCK_STREAM, port, bound);
                               if (listen(lfd.get(), 128) != 0) throw SysError("listen", errno);
                               ready(bound);
                               return serve(lfd.get(), mode, counter);
                           })) {}

}  // namespace xdpd::net
