#include "api/socket.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "util/error.hpp"

namespace xdpd::api {
namespace {

constexpr size_t kMaxMessage = 1 << 20;

sockaddr_un address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

UniqueFd connect_to(const std::string& path) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw SysError("create unix socket", errno);
    auto a = address(path);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
    return fd;
}

// Reads until newline or EOF, with a deadline.
std::string read_message(int fd, int timeout_ms) {
    std::string buf;
    char chunk[65536];
    while (buf.size() < kMaxMessage) {
        pollfd p{fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0) throw std::runtime_error("timed out waiting for the other side of the control socket");
        if (r < 0) throw SysError("poll control socket", errno);
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) throw SysError("read control socket", errno);
        if (n == 0) break;
        buf.append(chunk, size_t(n));
        if (buf.back() == '\n') break;
    }
    return buf;
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0) throw SysError("write control socket", errno);
        off += size_t(n);
    }
}

}  // namespace

Server::Server(std::string path) : path_(std::move(path)) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::exists(dir)) {
        fs::create_directories(dir, ec);
        if (ec) throw SysError("create " + dir.string(), ec.value());
        chmod(dir.c_str(), 0700);
    }
    if (fs::exists(path_)) {
        if (connect_to(path_))
            throw std::runtime_error("another xdpd already answers on " + path_ +
                                     "; stop it first (xdpd detach / kill its pid) or use another daemon.socket");
        unlink(path_.c_str());  // stale socket of a daemon that died
    }
    fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) throw SysError("create unix socket", errno);
    auto a = address(path_);
    mode_t old = umask(0177);
    int rc = bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    umask(old);
    if (rc != 0) throw SysError("bind control socket " + path_, errno);
    chmod(path_.c_str(), 0600);
    if (listen(fd_.get(), 16) != 0) throw SysError("listen on " + path_, errno);
}

Server::~Server() {
    if (fd_) unlink(path_.c_str());
}

void Server::serve_one(const Handler& handler) {
    UniqueFd c(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    nlohmann::json reply;
    try {
        std::string msg = read_message(c.get(), 5000);
        if (msg.empty()) return;  // a liveness probe: connected and closed
        auto req = nlohmann::json::parse(msg);
        reply = {{"ok", true}, {"data", handler(req)}};
    } catch (const std::exception& e) {
        reply = {{"ok", false}, {"error", e.what()}};
    }
    try {
        write_all(c.get(), reply.dump() + "\n");
    } catch (const std::exception& e) {
        spdlog::warn("control API: could not answer a client: {}", e.what());
    }
}

nlohmann::json call(const std::string& path, const nlohmann::json& request, int timeout_ms) {
    UniqueFd fd = connect_to(path);
    if (!fd)
        throw std::runtime_error(fmt::format(
            "cannot reach xdpd at {}: {} (start it with `xdpd run -c FILE`, or pass --socket)", path,
            std::strerror(errno)));
    write_all(fd.get(), request.dump() + "\n");
    shutdown(fd.get(), SHUT_WR);
    auto reply = nlohmann::json::parse(read_message(fd.get(), timeout_ms));
    if (!reply.value("ok", false)) throw std::runtime_error(reply.value("error", "unknown error"));
    return reply["data"];
}

bool reachable(const std::string& path) { return bool(connect_to(path)); }

}  // namespace xdpd::api
