#include "net/ping.hpp"

#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "net/process.hpp"
#include "net/socket_addr.hpp"

namespace xdpd::net {

PingResult ping(const Netns& ns, const std::string& addr, int count, std::chrono::milliseconds timeout) {
    if (count < 1) throw std::invalid_argument("ping: count must be at least 1");
    int version = ip_version(addr);
    long long deadline_s = std::max<long long>(1, (timeout.count() + 999) / 1000);
    CmdResult r = exec(&ns,
                       {"ping", version == 6 ? "-6" : "-4", "-n", "-q", "-c", std::to_string(count), "-i", "0.1", "-w",
                        std::to_string(deadline_s), addr},
                       std::chrono::seconds(deadline_s + 3));
    PingResult p;
    p.output = r.out + r.err;
    // "3 packets transmitted, 3 received, 0% packet loss, time 204ms"
    auto at = r.out.find(" packets transmitted, ");
    if (at != std::string::npos) {
        auto line = r.out.rfind('\n', at);
        line = line == std::string::npos ? 0 : line + 1;
        std::sscanf(r.out.c_str() + line, "%d packets transmitted, %d received", &p.transmitted, &p.received);
    }
    return p;
}

}  // namespace xdpd::net
