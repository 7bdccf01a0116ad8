#include "e2e/xsk_apps_support.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <sstream>
#include <stdexcept>
#include <thread>

#include "e2e/xsk_lab.hpp"
#include "net/socket_addr.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace xdpd::test {

using namespace std::chrono_literals;

AppProcess::AppProcess(const std::string& netns, const std::string& bpffs, const std::string& socket,
                       std::vector<std::string> xsk_args)
    : proc_([&] {
          std::vector<std::string> argv = {XDPD_BINARY, "--netns", netns, "--bpffs", bpffs, "--socket", socket, "xsk"};
          argv.insert(argv.end(), xsk_args.begin(), xsk_args.end());
          return net::Process::spawn(nullptr, argv);
      }()) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (events("start").empty()) {
        if (!proc_.running() || std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("the app did not start\n" + output());
        std::this_thread::sleep_for(20ms);
    }
}

std::vector<nlohmann::json> AppProcess::events(const std::string& name) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(proc_.out());
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] != '{') continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == name) out.push_back(std::move(j));
    }
    return out;
}

bool AppProcess::wait_events(const std::string& name, size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (events(name).size() < n) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::optional<int> AppProcess::stop(int sig) {
    proc_.kill(sig);
    return proc_.wait(10s);
}

nlohmann::json AppProcess::summary() const {
    auto s = events("summary");
    return s.empty() ? nlohmann::json() : s.back();
}

void send_datagrams(const std::string& ns, const std::string& addr, uint16_t port,
                    const std::vector<std::string>& payloads) {
    in_netns(ns, [&] {
        net::SocketAddr to = net::make_sockaddr(addr, port);
        UniqueFd s(socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s) throw SysError("udp socket", errno);
        int i = 0;
        for (const std::string& p : payloads) {
            if (sendto(s.get(), p.data(), p.size(), 0, to.get(), to.len) != ssize_t(p.size()))
                throw SysError("send to " + addr + " port " + std::to_string(port), errno);
            if (++i % 16 == 0) std::this_thread::sleep_for(500us);
        }
    });
}

int echo_exchanges(const std::string& ns, const std::string& addr, uint16_t port,
                   const std::vector<std::string>& payloads, std::chrono::milliseconds timeout) {
    return in_netns(ns, [&] {
        net::SocketAddr to = net::make_sockaddr(addr, port);
        UniqueFd s(socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s) throw SysError("udp socket", errno);
        if (connect(s.get(), to.get(), to.len) != 0) throw SysError("connect to " + addr, errno);
        timeval tv{long(timeout.count() / 1000), long(timeout.count() % 1000) * 1000};
        setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int good = 0;
        std::string buf(65536, '\0');
        for (const std::string& p : payloads) {
            if (send(s.get(), p.data(), p.size(), 0) != ssize_t(p.size())) continue;
            // Read until this payload's answer or a timeout (a late answer to an
            // earlier datagram is skipped).
            for (;;) {
                ssize_t n = recv(s.get(), buf.data(), buf.size(), 0);
                if (n < 0) break;
                if (std::string_view(buf.data(), size_t(n)) == p) {
                    ++good;
                    break;
                }
            }
        }
        return good;
    });
}

std::vector<std::string> tagged_payloads(const std::string& tag, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        std::string p = tag + " " + std::to_string(i) + " ";
        const size_t len = 20 + size_t(i) * 131 % 1200;
        while (p.size() < len) p.push_back(char('a' + (i + p.size()) % 26));
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace xdpd::test
