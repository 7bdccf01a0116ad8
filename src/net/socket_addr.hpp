// SocketAddr: a numeric IPv4/IPv6 address and port as a sockaddr, and the
// small socket helpers the traffic children share.
#pragma once
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "util/fd.hpp"

namespace xdpd::net {

struct SocketAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;

    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "10.77.0.1" or "fd77::1" (no names, no scope ids). Throws std::invalid_argument.
SocketAddr make_sockaddr(const std::string& addr, uint16_t port);

// Address family of a numeric address: 4 or 6. Throws std::invalid_argument.
int ip_version(const std::string& addr);

// A socket of type bound to port on every local address: IPv6 with
// IPV6_V6ONLY off (so IPv4 too), or IPv4 only where IPv6 is unavailable.
// Returns the socket and writes the bound port (useful with port 0).
// Throws SysError.
UniqueFd bind_any(int type, uint16_t port, uint16_t& bound_port);

// Milliseconds left until deadline, at least 0, for poll().
int ms_left(std::chrono::steady_clock::time_point deadline);

}  // namespace xdpd::net
