// LbDaemon: the fixture of the load balancer's end-to-end tests. The LB lab
// (client, lb, three backends on one switch; src/net/lb_lab.hpp), a whoami
// TCP server (port 8080) and UDP server (port 5353) in every backend that
// answer with the backend's name, and the real xdpd binary as the daemon on
// lb0, serving VIPs in 10.99.0.0/24 and fd99::/64.
#pragma once
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "lab/daemon_process.hpp"
#include "net/lb_lab.hpp"
#include "net/process.hpp"
#include "net/socket_addr.hpp"
#include "net/whoami.hpp"
#include "util/error.hpp"

namespace xdpd::test {
using namespace std::chrono_literals;
using net::LbLab;

// TCP connections from fixed source ports (src:sport -> dst:dport), opened and
// held by one forked child in ns, so that a test knows each connection's flow
// (HeldConnections' source ports are the kernel's choice). Each reads the
// whoami name line; check() sends a line on each and reports whether the echo
// comes back. Use source ports below the kernel's ephemeral range (32768-):
// no other connection of the test can take them. The destructor kills the
// child, which closes the connections.
class PortedConnections {
public:
    PortedConnections(const net::Netns& ns, const std::string& src, std::vector<uint16_t> sports,
                      const std::string& dst, uint16_t dport, std::chrono::milliseconds timeout = 5s)
        : sports_(std::move(sports)) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw SysError("socketpair", errno);
        UniqueFd mine(sv[0]), theirs(sv[1]);
        const net::SocketAddr to = net::make_sockaddr(dst, dport);
        std::vector<net::SocketAddr> from;
        for (uint16_t p : sports_) from.push_back(net::make_sockaddr(src, p));
        child_.emplace(net::Process::fork(
            &ns,
            [m = mine.get(), ctl = theirs.get(), to, from, timeout] {
                ::close(m);
                return serve(ctl, to, from, timeout);
            },
            fmt::format("ported connections {} -> {}:{} x{}", src, dst, dport, sports_.size())));
        ctl_ = std::move(mine);
        for (const auto& line : reply(timeout * int(sports_.size() + 1) + 5s)) names_.push_back(line == "-" ? "" : line);
        if (names_.size() != sports_.size()) throw std::runtime_error("ported connections: wrong number of names");
    }

    const std::vector<uint16_t>& sports() const { return sports_; }
    // Per connection: the name it read at open, "" if it failed.
    const std::vector<std::string>& names() const { return names_; }

    std::vector<bool> check(std::chrono::milliseconds timeout = 3s) {
        const std::string cmd = "check\n";
        if (send(ctl_.get(), cmd.data(), cmd.size(), MSG_NOSIGNAL) != ssize_t(cmd.size()))
            throw std::runtime_error("ported connections: the child is gone: " + child_->err());
        std::vector<bool> ok;
        for (const auto& l : reply(timeout * int(sports_.size() + 1) + 5s)) ok.push_back(l == "1");
        return ok;
    }

private:
    // In the child: connect each, report names, then answer checks.
    static int serve(int ctl, const net::SocketAddr& to, const std::vector<net::SocketAddr>& from,
                     std::chrono::milliseconds timeout) {
        timeval tv{time_t(timeout.count() / 1000), suseconds_t(timeout.count() % 1000 * 1000)};
        std::vector<int> fds;
        std::string out;
        for (const auto& f : from) {
            int fd = socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string name;
            if (bind(fd, f.get(), f.len) == 0 && connect(fd, to.get(), to.len) == 0) name = read_line(fd);
            if (name.empty()) {
                ::close(fd);
                fd = -1;
            }
            fds.push_back(fd);
            out += (name.empty() ? "-" : name) + "\n";
        }
        write_all(ctl, out + "end\n");
        for (unsigned seq = 0; read_line(ctl) == "check"; ++seq) {
            out.clear();
            for (int& fd : fds) {
                bool ok = false;
                if (fd >= 0) {
                    const std::string line = fmt::format("echo{}", seq);
                    if (send(fd, (line + "\n").data(), line.size() + 1, MSG_NOSIGNAL) == ssize_t(line.size() + 1))
                        ok = read_line(fd) == line;
                    if (!ok) {
                        ::close(fd);
                        fd = -1;
                    }
                }
                out += ok ? "1\n" : "0\n";
            }
            write_all(ctl, out + "end\n");
        }
        return 0;
    }
    // One line, byte by byte (no read-ahead past it); "" on error or EOF.
    static std::string read_line(int fd) {
        std::string s;
        char c;
        for (;;) {
            ssize_t r = ::read(fd, &c, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r != 1) return "";
            if (c == '\n') return s;
            s += c;
        }
    }
    static void write_all(int fd, const std::string& s) {
        for (size_t off = 0; off < s.size();) {
            ssize_t w = ::write(fd, s.data() + off, s.size() - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) throw SysError("write", errno);
            off += size_t(w);
        }
    }
    // Lines from the child up to "end".
    std::vector<std::string> reply(std::chrono::milliseconds wait) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        std::vector<std::string> lines;
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                if (line == "end") return lines;
                lines.push_back(line);
                continue;
            }
            pollfd pfd{ctl_.get(), POLLIN, 0};
            if (poll(&pfd, 1, net::ms_left(deadline)) <= 0)
                throw std::runtime_error("ported connections: no answer in time: " + child_->err());
            char b[4096];
            ssize_t r = ::read(ctl_.get(), b, sizeof b);
            if (r <= 0) throw std::runtime_error("ported connections: the child exited: " + child_->err());
            buf_.append(b, size_t(r));
        }
    }

    std::vector<uint16_t> sports_;
    std::vector<std::string> names_;
    UniqueFd ctl_;
    std::optional<net::Process> child_;
    std::string buf_;
};

class LbDaemon : public ::testing::Test {
protected:
    static constexpr uint16_t kTcpPort = 8080, kUdpPort = 5353;

    void SetUp() override {
        scratch_.emplace(XDPD_BINARY, lab_.lb().name(), lab::DaemonPaths::for_name(lab_.prefix()));
        paths_ = scratch_->paths();
        for (int i = 0; i < lab_.n_backends(); ++i) {
            tcp_.emplace_back(lab_.backend(i), kTcpPort, LbLab::backend_name(i));
            udp_.emplace_back(lab_.backend(i), kUdpPort, LbLab::backend_name(i));
        }
        deliver_xdp_tx();
    }

    void TearDown() override {
        if (HasFailure() && daemon_)
            std::fprintf(stderr, "---- xdpd (%s) log ----\n%s------------------\n",
                         daemon_->running() ? "running" : "exited", daemon_->log().c_str());
    }

    // XDP_TX on lb0 puts frames in the peer's (sw-lb's) XDP ring; an XDP
    // program there makes the kernel deliver them at once.
    void deliver_xdp_tx() {
        const std::string obj =
            (std::filesystem::path(XDPD_BINARY).parent_path() / "gen" / "baseline.bpf.o").string();
        net::exec_checked(&lab_.sw(), {"ip", "link", "set", "dev", LbLab::switch_port_lb(), "xdpdrv", "obj", obj,
                                       "sec", "xdp", "program", "xdp_pass"});
    }

    // The config: interfaces and daemon paths around `lb_section` (YAML of
    // the lb: key, indented by two).
    void write_config(const std::string& lb_section, const std::string& extra = "") {
        std::ofstream(paths_.config) << "interfaces:\n  - name: " << LbLab::lb_if() << "\n" << extra
                                     << "lb:\n" << lb_section << "daemon:\n  socket: " << paths_.socket
                                     << "\n  bpffs: " << paths_.bpffs << "\n";
    }

    // A service with the three backends at the given weights.
    static std::string service(const std::string& name, const std::string& vip, const std::string& proto,
                               uint16_t port, const std::string& mode, std::vector<int> weights,
                               uint16_t backend_port, int version = 4, const std::string& health = "") {
        std::string s = "    - name: " + name + "\n      vip: " + vip + "\n      proto: " + proto +
                        "\n      port: " + std::to_string(port) + "\n      mode: " + mode + "\n" + health +
                        "      backends:\n";
        for (size_t i = 0; i < weights.size(); ++i) {
            s += "        - addr: " + LbLab::backend_addr(int(i), version) + "\n";
            if (mode == "nat") s += "          port: " + std::to_string(backend_port) + "\n";
            s += "          weight: " + std::to_string(weights[i]) + "\n";
        }
        return s;
    }

    void start(std::vector<std::string> extra = {}) { daemon_.emplace(XDPD_BINARY, lab_.lb().name(), paths_, extra); }

    nlohmann::json lb_status() { return daemon_->call({{"cmd", "lb"}}); }

    // The service named `name` in lb status (null if none).
    nlohmann::json lb_service(const std::string& name) {
        const auto st = lb_status();  // a named copy: range-for would not extend the temporary's life
        for (const auto& s : st["services"])
            if (s["name"] == name) return s;
        return nullptr;
    }
    // A backend of a service in lb status, by its address ("10.78.0.12").
    nlohmann::json lb_backend(const std::string& svc, const std::string& addr) {
        const auto s = lb_service(svc);
        if (!s.is_null())
            for (const auto& b : s["backends"])
                if (backend_addr_of(b["backend"].get<std::string>()) == addr) return b;
        return nullptr;
    }

    // "10.78.0.11:8080" / "[fd78::11]:8080" -> "10.78.0.11" / "fd78::11".
    static std::string backend_addr_of(const std::string& id) {
        std::string a = id.substr(0, id.rfind(':'));
        if (a.size() > 2 && a.front() == '[') a = a.substr(1, a.size() - 2);
        return a;
    }
    // A backend's id or address -> its whoami name ("be2"); "" when none.
    static std::string name_of(const std::string& id_or_addr) {
        const bool is_id = id_or_addr.starts_with("[") || (id_or_addr.find('.') != std::string::npos &&
                                                          id_or_addr.find(':') != std::string::npos);
        const std::string a = is_id ? backend_addr_of(id_or_addr) : id_or_addr;
        for (int i = 0; i < LbLab::kDefaultBackends; ++i)
            for (int v : {4, 6})
                if (LbLab::backend_addr(i, v) == a) return LbLab::backend_name(i);
        return "";
    }

    // `lb lookup` through the API: the whoami name of the backend the flow
    // goes to ("" for none) and where the answer came from.
    struct Lookup {
        std::string name, from;
    };
    Lookup lookup(const std::string& proto, const std::string& src, uint16_t sport, const std::string& dst,
                  uint16_t dport) {
        auto j = daemon_->call({{"cmd", "lb"}, {"op", "lookup"}, {"proto", proto}, {"src", src}, {"sport", sport},
                                {"dst", dst}, {"dport", dport}});
        Lookup l;
        if (j.contains("backend") && j["backend"].is_string()) l.name = name_of(j["backend"].get<std::string>());
        l.from = j.value("from", "");
        return l;
    }
    // The backends of n flows from the client's address with fixed source
    // ports first_port.. (below the ephemeral range: no real connection has
    // them, so the ring decides).
    std::vector<std::string> ring_of(const std::string& proto, const std::string& dst, uint16_t dport, int n,
                                     uint16_t first_port = 1024) {
        std::vector<std::string> out;
        const int v = dst.find(':') != std::string::npos ? 6 : 4;
        for (int i = 0; i < n; ++i) out.push_back(lookup(proto, LbLab::client_addr(v), uint16_t(first_port + i), dst, dport).name);
        return out;
    }

    // Events of a type (and backend id, if given) from the daemon's event log.
    std::vector<nlohmann::json> events(const std::string& type, const std::string& backend = "") {
        std::vector<nlohmann::json> out;
        for (const auto& e : daemon_->call({{"cmd", "events"}}))
            if (e.value("type", "") == type && (backend.empty() || e.value("backend", "") == backend)) out.push_back(e);
        return out;
    }

    uint64_t reason_packets(const std::string& reason) {
        return daemon_->call({{"cmd", "stats"}})["interfaces"][0]["reasons"][reason]["packets"].get<uint64_t>();
    }

    // Polls pred every 50 ms until it holds or timeout passes.
    static bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(50ms);
        }
        return true;
    }

    // How many of `names` are in `set`.
    static int count_in(const std::vector<std::string>& names, std::initializer_list<const char*> set) {
        int n = 0;
        for (const auto& x : names)
            for (const char* s : set) n += x == s;
        return n;
    }

    LbLab lab_;
    std::optional<lab::ScratchDataPlane> scratch_;
    lab::DaemonPaths paths_;
    std::vector<net::WhoamiTcpServer> tcp_;
    std::vector<net::WhoamiUdpServer> udp_;
    std::optional<lab::DaemonProcess> daemon_;
};

}  // namespace xdpd::test
