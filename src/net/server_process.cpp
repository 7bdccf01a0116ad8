#include "net/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include "net/netns.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

RunningServer start_server(const Netns& ns, std::string label, std::function<int(const ReadyFn&)> body,
                           std::chrono::milliseconds timeout) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw SysError("pipe2", errno);
    UniqueFd rd(p[0]), wr(p[1]);

    Process proc = Process::fork(
        &ns,
        [r = rd.get(), w = wr.get(), body = std::move(body)]() {
            ::close(r);
            ReadyFn ready = [w](uint16_t port) {
                [[maybe_unused]] ssize_t n = write(w, &port, sizeof port);
                ::close(w);
            };
            return body(ready);
        },
        label);
    wr.reset();

    auto deadline = std::chrono::steady_clock::now() + timeout;
    uint16_t port = 0;
    for (;;) {
        pollfd pfd{rd.get(), POLLIN, 0};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("poll ready pipe of " + proc.label(), errno);
        if (n == 0) {
            proc.kill(SIGKILL);
            proc.wait(std::chrono::seconds(5));
            throw std::runtime_error(fmt::format("{}: not ready after {} ms; stderr: {}", proc.label(),
                                                 timeout.count(), trimmed(proc.err())));
        }
        ssize_t got = read(rd.get(), &port, sizeof port);
        if (got < 0 && errno == EINTR) continue;
        if (got == ssize_t(sizeof port)) break;
        // EOF: the child died (or closed the pipe) before it was ready.
        auto rc = proc.wait(std::chrono::seconds(2));
        throw std::runtime_error(fmt::format("{}: exited before it was ready (exit {}); stderr: {}", proc.label(),
                                             rc ? *rc : -1, trimmed(proc.err())));
    }
    return RunningServer{std::move(proc), port};
}

}  // namespace xdpd::net
