// ping: ICMP echo from a namespace with the ping binary (iputils).
#pragma once
#include <chrono>
#include <string>

namespace xdpd::net {

class Netns;

struct PingResult {
    int transmitted = 0;
    int received = 0;
    std::string output;  // ping's stdout and stderr, for messages

    bool ok() const { return received > 0; }
};

// `ping -4|-6 -n -q -c count -i 0.1 -w deadline addr` in ns, the family taken
// from the address. ping stops after count replies or at the deadline, which
// is timeout rounded up to whole seconds (ping's -w takes only integers);
// without replies it keeps sending until then. No reply, an unreachable
// network etc. are results (received == 0), not exceptions; a missing ping
// binary throws SysError.
PingResult ping(const Netns& ns, const std::string& addr, int count = 1,
                std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace xdpd::net
