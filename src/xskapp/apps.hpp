// The three apps as Handlers (handler.hpp). Each is tiny: the Queue loop does
// the ring work.
//   rxdrop: count and drop (optionally print the xdpd metadata of the first N)
//   l2fwd:  swap the Ethernet addresses and send the frame back
//   echo:   answer UDP to one port (IPv4 and IPv6), drop the rest
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "xskapp/handler.hpp"
#include "xskapp/options.hpp"

namespace xdpd::xskapp {

// Shared by the queues of one run.
struct AppShared {
    std::atomic<uint64_t> received{0};     // rxdrop --count: packets over all queues
    std::atomic<uint32_t> meta_shown{0};   // rxdrop --show-meta: lines printed
    std::atomic<bool>* stop = nullptr;     // set to end the run (--count reached)
    std::function<void(const nlohmann::json&, const std::string&)> print;  // a line (JSON or text)
};

std::unique_ptr<Handler> make_handler(const AppOptions& o, AppShared& shared);

// The metadata xdpd put in front of a steered packet, as JSON (nullopt-like:
// {"present": false} when there is none).
nlohmann::json meta_json(const uint8_t* pkt, uint32_t queue);

}  // namespace xdpd::xskapp
