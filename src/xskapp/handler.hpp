// What an app does with each received packet: the worker (queue.hpp) calls
// on_packet for every RX descriptor, in place in the UMEM frame, and sends
// the frame back out of the same queue when it says tx (no copy).
#pragma once
#include <cstdint>

namespace xdpd::xskapp {

enum class Verdict {
    drop,        // the frame goes back to the fill ring
    tx,          // send the frame (len may have changed) out of the queue it came from
    not_for_me,  // drop, counted apart (echo: not UDP to its port)
};

struct Frame {
    uint8_t* data;    // Ethernet header; the xdpd metadata is in the 28 bytes before it
    uint32_t len;     // may be changed by the handler (within the frame)
    uint32_t queue;   // RX queue
};

class Handler {
public:
    virtual ~Handler() = default;
    virtual Verdict on_packet(Frame& f) = 0;
    virtual bool transmits() const = 0;  // needs a TX ring
};

}  // namespace xdpd::xskapp
