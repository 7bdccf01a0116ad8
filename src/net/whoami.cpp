#include "net/whoami.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "net/netns.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string checked_name(std::string name) {
    bool blank = false;
    for (char c : name) blank |= c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\0';
    if (name.empty() || name.size() > 200 || blank)
        throw std::invalid_argument(
            fmt::format("whoami name '{}': 1 to 200 characters without white space, please", name));
    return name;
}

// Children that hold many sockets at once: the soft descriptor limit (often
// 1024) up to the hard one.
void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void write_all(int fd, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
        ssize_t w = ::write(fd, s.data() + off, s.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw SysError("write", errno);
        off += size_t(w);
    }
}

// ---- servers (in the server child) -------------------------------------------

// The TCP server's loop: accepts, greets with line, echoes. Never returns.
// Non-blocking sockets; a connection with output pending is not read from
// until it has been sent (the peer must read its echo).
int serve_tcp(int lfd, const std::string& line, const SharedCounter& accepted) {
    raise_nofile();
    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep) throw SysError("epoll_create1", errno);
    auto watch = [&](int op, int fd, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        return epoll_ctl(ep.get(), op, fd, &ev);
    };
    if (watch(EPOLL_CTL_ADD, lfd, EPOLLIN) != 0) throw SysError("epoll_ctl listener", errno);

    struct Conn {
        std::string out;  // not sent yet
        bool want_out = false;  // watched for EPOLLOUT instead of EPOLLIN
    };
    std::unordered_map<int, Conn> conns;
    auto drop = [&](int fd) {
        epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns.erase(fd);
    };
    // Sends what is pending; false when the connection is finished.
    auto flush = [&](int fd, Conn& c) {
        while (!c.out.empty()) {
            ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == EAGAIN) break;
            if (w < 0) return false;
            c.out.erase(0, size_t(w));
        }
        bool want_out = !c.out.empty();
        if (want_out != c.want_out) {
            c.want_out = want_out;
            watch(EPOLL_CTL_MOD, fd, want_out ? EPOLLOUT : EPOLLIN);
        }
        return true;
    };

    epoll_event events[256];
    char buf[65536];
    for (;;) {
        int n = epoll_wait(ep.get(), events, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("epoll_wait", errno);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0 && errno == EINTR) continue;
                    if (c < 0) break;  // EAGAIN: all taken; else a connection that vanished
                    accepted.add();
                    Conn& conn = conns[c] = Conn{line, false};
                    if (watch(EPOLL_CTL_ADD, c, EPOLLIN) != 0 || !flush(c, conn)) drop(c);
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            Conn& conn = it->second;
            if (conn.want_out) {
                if (!flush(fd, conn)) drop(fd);
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                drop(fd);  // the peer closed (or reset)
                continue;
            }
            conn.out.append(buf, size_t(r));
            if (!flush(fd, conn)) drop(fd);
        }
    }
}

// The UDP server's loop: answers "NAME PAYLOAD" from the datagram's
// destination address. Never returns.
int serve_udp(int fd, const std::string& name, const SharedCounter& received) {
    sockaddr_storage self{};
    socklen_t self_len = sizeof self;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0) throw SysError("getsockname", errno);
    bool v6 = self.ss_family == AF_INET6;
    int on = 1;
    // On the dual-stack socket IPV6_RECVPKTINFO also reports IPv4
    // destinations (as ::ffff:a.b.c.d), and IPV6_PKTINFO with such an address
    // sets the IPv4 source on the way back.
    if (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on)
           : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on))
        throw SysError(v6 ? "setsockopt IPV6_RECVPKTINFO" : "setsockopt IP_PKTINFO", errno);

    std::string reply = name + " ";
    const size_t head = reply.size();
    char buf[65536];
    for (;;) {
        sockaddr_storage from{};
        iovec iov{buf, sizeof buf};
        alignas(cmsghdr) char cin[256];
        msghdr m{};
        m.msg_name = &from;
        m.msg_namelen = sizeof from;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cin;
        m.msg_controllen = sizeof cin;
        ssize_t r = recvmsg(fd, &m, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw SysError("recvmsg", errno);
        }
        received.add();
        reply.resize(head);
        reply.append(buf, size_t(r));

        alignas(cmsghdr) char cout[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
        iovec oiov{reply.data(), reply.size()};
        msghdr o{};
        o.msg_name = &from;
        o.msg_namelen = m.msg_namelen;
        o.msg_iov = &oiov;
        o.msg_iovlen = 1;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            // The interface index is left 0: the route decides (a DSR reply
            // leaves by be0 although the VIP is on lo).
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                in6_pktinfo in{};
                std::memcpy(&in, CMSG_DATA(c), sizeof in);
                in6_pktinfo out{};
                out.ipi6_addr = in.ipi6_addr;
                o.msg_control = cout;
                o.msg_controllen = CMSG_SPACE(sizeof out);
                cmsghdr* oc = CMSG_FIRSTHDR(&o);
                oc->cmsg_level = IPPROTO_IPV6;
                oc->cmsg_type = IPV6_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof out);
                std::memcpy(CMSG_DATA(oc), &out, sizeof out);
            } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                in_pktinfo in{};
                std::memcpy(&in, CMSG_DATA(c), sizeof in);
                in_pktinfo out{};
                out.ipi_spec_dst = in.ipi_addr;  // the header's destination
                o.msg_control = cout;
                o.msg_controllen = CMSG_SPACE(sizeof out);
                cmsghdr* oc = CMSG_FIRSTHDR(&o);
                oc->cmsg_level = IPPROTO_IP;
                oc->cmsg_type = IP_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof out);
                std::memcpy(CMSG_DATA(oc), &out, sizeof out);
            }
        }
        // A failure (no route back, say) shows as the client's timeout.
        sendmsg(fd, &o, MSG_NOSIGNAL);
    }
}

// ---- clients (in the client child) -------------------------------------------

struct Outcome {
    int err = 0;        // 0 or errno
    std::string name;   // the server's name when err == 0
    UniqueFd fd;        // the connection, when kept
    std::string rest;   // bytes after the name line
};

// One request in flight: a socket, what came so far, its deadline.
struct Active {
    int index;
    UniqueFd fd;
    Clock::time_point deadline;
    bool connected = false;  // TCP: handshake done
    std::string payload;     // UDP: what was sent
    std::string in;
};

// Runs n requests, `parallel` at a time. start(index, active) opens the
// socket (returns 0 or an errno), step(active, revents, outcome) handles
// poll events (returns -1 while still going, else 0 or an errno);
// events(active) gives what to poll for.
std::vector<Outcome> run_requests(int n, int parallel, milliseconds timeout,
                                  const std::function<int(Active&)>& start,
                                  const std::function<short(const Active&)>& events,
                                  const std::function<int(Active&, short, Outcome&)>& step) {
    if (parallel < 1) parallel = 1;
    std::vector<Outcome> out(size_t(std::max(n, 0)));
    std::vector<Active> active;
    std::vector<pollfd> pfds;
    int next = 0;
    while (next < n || !active.empty()) {
        while (next < n && int(active.size()) < parallel) {
            Active a{next++, {}, Clock::now() + timeout};
            int err = start(a);
            if (err) {
                out[size_t(a.index)].err = err;
                continue;
            }
            active.push_back(std::move(a));
        }
        if (active.empty()) continue;
        pfds.clear();
        Clock::time_point first = active.front().deadline;
        for (const Active& a : active) {
            pfds.push_back({a.fd.get(), events(a), 0});
            first = std::min(first, a.deadline);
        }
        int r = poll(pfds.data(), pfds.size(), ms_left(first));
        if (r < 0 && errno != EINTR) throw SysError("poll", errno);
        auto now = Clock::now();
        for (size_t i = active.size(); i-- > 0;) {
            Active& a = active[i];
            Outcome& o = out[size_t(a.index)];
            short re = r > 0 ? pfds[i].revents : 0;
            int err = re ? step(a, re, o) : -1;
            if (err < 0 && now >= a.deadline) err = ETIMEDOUT;
            if (err < 0) continue;
            o.err = err;
            if (err) o.name.clear();
            active.erase(active.begin() + ptrdiff_t(i));
        }
    }
    return out;
}

// n TCP connections; each done when its name line came. keep: the
// connections stay open in the outcomes (non-blocking).
std::vector<Outcome> tcp_requests(const SocketAddr& to, int n, int parallel, milliseconds timeout, bool keep) {
    auto start = [&to](Active& a) {
        a.fd.reset(socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!a.fd) return errno;
        if (connect(a.fd.get(), to.get(), to.len) == 0) {
            a.connected = true;
        } else if (errno != EINPROGRESS) {
            return errno;
        }
        return 0;
    };
    auto events = [](const Active& a) -> short { return a.connected ? POLLIN : POLLOUT; };
    auto step = [keep](Active& a, short, Outcome& o) {
        if (!a.connected) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(a.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
            if (err) return err;
            a.connected = true;
            return -1;  // the name comes next
        }
        char buf[1024];
        ssize_t got = recv(a.fd.get(), buf, sizeof buf, 0);
        if (got < 0) return errno == EAGAIN || errno == EINTR ? -1 : errno;
        if (got == 0) return ECONNRESET;  // closed before the name
        a.in.append(buf, size_t(got));
        auto nl = a.in.find('\n');
        if (nl == std::string::npos) return a.in.size() > 4096 ? EBADMSG : -1;
        o.name = a.in.substr(0, nl);
        o.rest = a.in.substr(nl + 1);
        if (keep) o.fd = std::move(a.fd);
        return 0;
    };
    return run_requests(n, parallel, timeout, start, events, step);
}

// n UDP exchanges, each from its own (connected) socket.
std::vector<Outcome> udp_requests(const SocketAddr& to, int n, int parallel, milliseconds timeout) {
    auto start = [&to](Active& a) {
        a.fd.reset(socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!a.fd) return errno;
        // Connected: only replies from to come in, and an ICMP port
        // unreachable shows as ECONNREFUSED.
        if (connect(a.fd.get(), to.get(), to.len) != 0) return errno;
        a.payload = fmt::format("whoami {}", a.index);
        if (send(a.fd.get(), a.payload.data(), a.payload.size(), 0) < 0) return errno;
        return 0;
    };
    auto events = [](const Active&) -> short { return POLLIN; };
    auto step = [](Active& a, short, Outcome& o) {
        char buf[4096];
        ssize_t got = recv(a.fd.get(), buf, sizeof buf, 0);
        if (got < 0) return errno == EAGAIN || errno == EINTR ? -1 : errno;
        std::string_view reply(buf, size_t(got));
        auto sp = reply.find(' ');
        if (sp == 0 || sp == std::string_view::npos || reply.substr(sp + 1) != a.payload) return EBADMSG;
        o.name = std::string(reply.substr(0, sp));
        return 0;
    };
    return run_requests(n, parallel, timeout, start, events, step);
}

// "ERR NAME\n" per outcome: what a client child reports.
std::string encode(const std::vector<Outcome>& outcomes) {
    std::string s;
    for (const Outcome& o : outcomes) s += fmt::format("{} {}\n", o.err, o.err ? "" : o.name);
    return s;
}

void decode_line(const std::string& line, int& err, std::string& name) {
    auto sp = line.find(' ');
    err = std::stoi(line.substr(0, sp));
    name = sp == std::string::npos ? "" : line.substr(sp + 1);
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// Runs a batch of requests in one forked child of ns; the child reports on
// stdout. wait: how long the whole batch may take.
std::vector<std::string> collect(const Netns& ns, std::string label, int n, milliseconds wait,
                                 std::function<std::vector<Outcome>()> requests, std::vector<int>* errors) {
    if (n < 0) throw std::invalid_argument(fmt::format("{}: n = {}", label, n));
    Process p = Process::fork(
        &ns,
        [requests = std::move(requests)] {
            raise_nofile();
            write_all(STDOUT_FILENO, encode(requests()));
            return 0;
        },
        std::move(label));
    auto rc = p.wait(wait);
    if (!rc) {
        p.kill(SIGKILL);
        p.wait(milliseconds(2000));
        throw std::runtime_error(fmt::format("{}: not done after {} ms; stderr: {}", p.label(), wait.count(),
                                             trimmed(p.err())));
    }
    if (*rc != 0) throw std::runtime_error(fmt::format("{}: exit {}: {}", p.label(), *rc, trimmed(p.err())));
    std::vector<std::string> names;
    std::vector<int> errs;
    std::string out = p.out();
    size_t pos = 0;
    while (pos < out.size()) {
        auto nl = out.find('\n', pos);
        if (nl == std::string::npos) break;
        int err;
        std::string name;
        decode_line(out.substr(pos, nl - pos), err, name);
        errs.push_back(err);
        names.push_back(std::move(name));
        pos = nl + 1;
    }
    if (int(names.size()) != n)
        throw std::runtime_error(fmt::format("{}: {} results instead of {}", p.label(), names.size(), n));
    if (errors) *errors = std::move(errs);
    return names;
}

// How long a batch of n requests, parallel at a time, may take at most.
milliseconds batch_wait(int n, int parallel, milliseconds timeout) {
    int rounds = (std::max(n, 1) + std::max(parallel, 1) - 1) / std::max(parallel, 1);
    return timeout * rounds + milliseconds(5000);
}

// ---- held connections (in the child) -------------------------------------------

// Sends "check SEQ I\n" on every open connection and waits for the echo.
// Returns 0 or the errno per connection. Connections that fail by an error or
// EOF are closed; a timed-out one stays open (its echo may come late; later
// checks skip stale lines).
std::vector<int> check_held(std::vector<Outcome>& conns, uint64_t seq, milliseconds timeout) {
    std::vector<int> result(conns.size(), -1);
    std::vector<std::string> expect(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
        Outcome& c = conns[i];
        if (!c.fd) {
            result[i] = c.err ? c.err : ENOTCONN;
            continue;
        }
        expect[i] = fmt::format("check {} {}\n", seq, i);
        ssize_t w = send(c.fd.get(), expect[i].data(), expect[i].size(), MSG_NOSIGNAL);
        if (w != ssize_t(expect[i].size())) result[i] = w < 0 ? errno : EMSGSIZE;
    }
    auto deadline = Clock::now() + timeout;
    std::vector<pollfd> pfds;
    std::vector<size_t> idx;
    for (;;) {
        pfds.clear();
        idx.clear();
        for (size_t i = 0; i < conns.size(); ++i) {
            if (result[i] >= 0) continue;
            // The echo may already be in what came with the name line.
            auto pos = conns[i].rest.find(expect[i]);
            if (pos != std::string::npos) {
                conns[i].rest.erase(0, pos + expect[i].size());
                result[i] = 0;
                continue;
            }
            pfds.push_back({conns[i].fd.get(), POLLIN, 0});
            idx.push_back(i);
        }
        if (pfds.empty()) break;
        int r = poll(pfds.data(), pfds.size(), ms_left(deadline));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw SysError("poll", errno);
        if (r == 0) {
            for (size_t i : idx) result[i] = ETIMEDOUT;
            break;
        }
        for (size_t j = 0; j < pfds.size(); ++j) {
            if (!pfds[j].revents) continue;
            Outcome& c = conns[idx[j]];
            char buf[4096];
            ssize_t got = recv(c.fd.get(), buf, sizeof buf, 0);
            if (got > 0) {
                c.rest.append(buf, size_t(got));
            } else if (got == 0) {
                result[idx[j]] = ECONNRESET;  // the server closed
            } else if (errno != EAGAIN && errno != EINTR) {
                result[idx[j]] = errno;
            }
        }
    }
    for (size_t i = 0; i < conns.size(); ++i) {
        if (result[i] != 0 && result[i] != ETIMEDOUT && conns[i].fd) {
            conns[i].fd.reset();
            conns[i].err = result[i];
        }
    }
    return result;
}

// One line from fd (blocking), without the newline; false on EOF.
bool read_line_blocking(int fd, std::string& buf, std::string& line) {
    for (;;) {
        auto nl = buf.find('\n');
        if (nl != std::string::npos) {
            line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            return true;
        }
        char tmp[512];
        ssize_t r = ::read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw SysError("read control socket", errno);
        if (r == 0) return false;
        buf.append(tmp, size_t(r));
    }
}

}  // namespace

// ---- public ------------------------------------------------------------------------

WhoamiTcpServer::WhoamiTcpServer(const Netns& ns, uint16_t port, std::string name)
    : name_(checked_name(std::move(name))),
      server_(start_server(ns, fmt::format("whoami tcp server {} port {}", name_, port),
                           [port, line = name_ + "\n", &counter = accepted_](const ReadyFn& ready) {
                               uint16_t bound = 0;
                               UniqueFd lfd = bind_any(SOCK_STREAM | SOCK_NONBLOCK, port, bound);
                               if (listen(lfd.get(), 4096) != 0) throw SysError("listen", errno);
                               ready(bound);
                               return serve_tcp(lfd.get(), line, counter);
                           })) {}

WhoamiUdpServer::WhoamiUdpServer(const Netns& ns, uint16_t port, std::string name)
    : name_(checked_name(std::move(name))),
      server_(start_server(ns, fmt::format("whoami udp server {} port {}", name_, port),
                           [port, name = name_, &counter = received_](const ReadyFn& ready) {
                               uint16_t bound = 0;
                               UniqueFd fd = bind_any(SOCK_DGRAM, port, bound);
                               ready(bound);
                               return serve_udp(fd.get(), name, counter);
                           })) {}

std::vector<std::string> whoami_tcp_many(const Netns& ns, const std::string& addr, uint16_t port, int n,
                                         milliseconds timeout, std::vector<int>* errors, int parallel) {
    SocketAddr to = make_sockaddr(addr, port);
    return collect(
        ns, fmt::format("whoami_tcp_many {} port {} x{}", addr, port, n), n, batch_wait(n, parallel, timeout),
        [to, n, parallel, timeout] { return tcp_requests(to, n, parallel, timeout, false); }, errors);
}

std::vector<std::string> whoami_udp_many(const Netns& ns, const std::string& addr, uint16_t port, int n,
                                         milliseconds timeout, std::vector<int>* errors, int parallel) {
    SocketAddr to = make_sockaddr(addr, port);
    return collect(
        ns, fmt::format("whoami_udp_many {} port {} x{}", addr, port, n), n, batch_wait(n, parallel, timeout),
        [to, n, parallel, timeout] { return udp_requests(to, n, parallel, timeout); }, errors);
}

std::map<std::string, int> count_names(const std::vector<std::string>& names) {
    std::map<std::string, int> m;
    for (const auto& n : names) ++m[n];
    return m;
}

std::string describe_names(const std::vector<std::string>& names) {
    std::string s;
    int failed = 0;
    for (const auto& [name, count] : count_names(names)) {
        if (name.empty()) {
            failed = count;
            continue;
        }
        s += fmt::format("{}{}: {}", s.empty() ? "" : ", ", name, count);
    }
    if (failed) s += fmt::format("{}failed: {}", s.empty() ? "" : ", ", failed);
    return s.empty() ? "nothing" : s;
}

std::string errno_name(int err) {
    if (err == 0) return "0";
    const char* n = strerrorname_np(err);
    return n ? n : std::to_string(err);
}

std::string describe_errors(const std::vector<int>& errors) {
    std::map<int, int> by;
    int failed = 0;
    for (int e : errors) {
        if (!e) continue;
        ++by[e];
        ++failed;
    }
    if (!failed) return "none failed";
    std::string s = fmt::format("{} of {} failed:", failed, errors.size());
    bool first = true;
    for (const auto& [e, count] : by) {
        s += fmt::format("{} {} x{}", first ? "" : ",", errno_name(e), count);
        first = false;
    }
    return s;
}

HeldConnections::Started HeldConnections::start(const Netns& ns, const std::string& addr, uint16_t port, int k,
                                                milliseconds timeout, int parallel) {
    if (k < 0) throw std::invalid_argument(fmt::format("HeldConnections: k = {}", k));
    SocketAddr to = make_sockaddr(addr, port);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw SysError("socketpair", errno);
    UniqueFd mine(sv[0]), theirs(sv[1]);
    Process child = Process::fork(
        &ns,
        [m = mine.get(), ctl = theirs.get(), to, k, timeout, parallel] {
            ::close(m);
            raise_nofile();
            std::vector<Outcome> conns = tcp_requests(to, k, parallel, timeout, true);
            write_all(ctl, encode(conns) + "end\n");
            std::string buf, line;
            uint64_t seq = 0;
            while (read_line_blocking(ctl, buf, line)) {
                if (!line.starts_with("check "))
                    throw std::runtime_error(fmt::format("unknown command '{}'", line));
                std::vector<int> result = check_held(conns, ++seq, milliseconds(std::stoll(line.substr(6))));
                std::string reply;
                for (int e : result) reply += fmt::format("{}\n", e);
                write_all(ctl, reply + "end\n");
            }
            return 0;  // our owner closed the control socket
        },
        fmt::format("held tcp connections {} port {} x{}", addr, port, k));
    return Started{std::move(mine), std::move(child)};
}

HeldConnections::HeldConnections(const Netns& ns, const std::string& addr, uint16_t port, int k,
                                 milliseconds timeout, int parallel)
    : HeldConnections(start(ns, addr, port, k, timeout, parallel), k, batch_wait(k, parallel, timeout)) {}

HeldConnections::HeldConnections(Started s, int k, milliseconds open_wait)
    : control_(std::move(s.control)), child_(std::move(s.child)) {
    for (const auto& line : read_reply(Clock::now() + open_wait, "opening")) {
        int err;
        std::string name;
        decode_line(line, err, name);
        open_errors_.push_back(err);
        names_.push_back(std::move(name));
    }
    if (size() != k)
        throw std::runtime_error(fmt::format("{}: {} connections reported instead of {}", child_.label(), size(), k));
    check_errors_ = open_errors_;
}

int HeldConnections::opened() const {
    int n = 0;
    for (int e : open_errors_) n += e == 0;
    return n;
}

std::vector<bool> HeldConnections::check(milliseconds timeout) {
    std::string cmd = fmt::format("check {}\n", timeout.count());
    if (send(control_.get(), cmd.data(), cmd.size(), MSG_NOSIGNAL) != ssize_t(cmd.size())) {
        int err = errno;
        child_.wait(milliseconds(1000));
        throw std::runtime_error(fmt::format("{}: sending check: {}; stderr: {}", child_.label(), std::strerror(err),
                                             trimmed(child_.err())));
    }
    std::vector<std::string> lines = read_reply(Clock::now() + timeout + milliseconds(5000), "check");
    if (int(lines.size()) != size())
        throw std::runtime_error(fmt::format("{}: check: {} answers for {} connections", child_.label(), lines.size(),
                                             size()));
    std::vector<bool> ok;
    check_errors_.clear();
    for (const auto& l : lines) {
        int err = std::stoi(l);
        check_errors_.push_back(err);
        ok.push_back(err == 0);
    }
    return ok;
}

std::vector<std::string> HeldConnections::read_reply(Clock::time_point deadline, const char* what) {
    std::vector<std::string> lines;
    for (;;) {
        auto nl = inbuf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = inbuf_.substr(0, nl);
            inbuf_.erase(0, nl + 1);
            if (line == "end") return lines;
            lines.push_back(std::move(line));
            continue;
        }
        pollfd pfd{control_.get(), POLLIN, 0};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("poll control socket of " + child_.label(), errno);
        if (n == 0)
            throw std::runtime_error(fmt::format("{}: {}: no answer in time; stderr: {}", child_.label(), what,
                                                 trimmed(child_.err())));
        char buf[4096];
        ssize_t r = ::read(control_.get(), buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) {
            inbuf_.append(buf, size_t(r));
            continue;
        }
        // EOF (or an error): the child is gone.
        auto rc = child_.wait(milliseconds(2000));
        throw std::runtime_error(fmt::format("{}: {}: the child exited (exit {}); stderr: {}", child_.label(), what,
                                             rc ? *rc : -1, trimmed(child_.err())));
    }
}

}  // namespace xdpd::net
