#include "net/socket_addr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "util/error.hpp"

namespace xdpd::net {

SocketAddr make_sockaddr(const std::string& addr, uint16_t port) {
    SocketAddr a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof *v6;
    } else {
        throw std::invalid_argument(fmt::format("'{}' is not a numeric IPv4 or IPv6 address", addr));
    }
    return a;
}

int ip_version(const std::string& addr) { return make_sockaddr(addr, 0).family() == AF_INET6 ? 6 : 4; }

UniqueFd bind_any(int type, uint16_t port, uint16_t& bound_port) {
    UniqueFd fd(socket(AF_INET6, type | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len;
    if (fd) {
        int off = 0;
        if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0)
            throw SysError("setsockopt IPV6_V6ONLY", errno);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
    } else if (errno == EAFNOSUPPORT) {
        fd.reset(socket(AF_INET, type | SOCK_CLOEXEC, 0));
        if (!fd) throw SysError("socket AF_INET", errno);
        auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons(port);
        len = sizeof *v4;
    } else {
        throw SysError("socket AF_INET6", errno);
    }
    int on = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        throw SysError(fmt::format("bind port {}", port), errno);
    len = sizeof ss;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw SysError("getsockname", errno);
    bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

int ms_left(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return int(std::clamp<long long>(left.count(), 0, 1 << 30));
}

}  // namespace xdpd::net
