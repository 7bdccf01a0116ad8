// Helpers of the AF_XDP app tests (xsk_apps_test.cpp): the app as a child
// process (`xdpd --netns NS --bpffs B xsk APP ... --json`) whose JSON lines
// the test reads, and kernel UDP / AF_PACKET sockets in a namespace.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/process.hpp"

namespace xdpd::test {

class AppProcess {
public:
    // Starts the app and waits for its "start" line (throws with its output
    // when it exits or does not start within 10 s).
    AppProcess(const std::string& netns, const std::string& bpffs, const std::string& socket,
               std::vector<std::string> xsk_args);

    // Every JSON line printed so far with "event" == name.
    std::vector<nlohmann::json> events(const std::string& name) const;
    // Waits until at least n such lines were printed; false on timeout.
    bool wait_events(const std::string& name, size_t n, std::chrono::milliseconds timeout) const;
    // Sends sig and waits for the exit; returns the exit code (nullopt: still running after 10 s).
    std::optional<int> stop(int sig = SIGINT);
    // Waits for the app to exit by itself (--count, --duration).
    std::optional<int> wait(std::chrono::milliseconds timeout) { return proc_.wait(timeout); }
    bool running() { return proc_.running(); }
    std::string output() const { return "---- app stdout ----\n" + proc_.out() + "---- app stderr ----\n" + proc_.err(); }
    nlohmann::json start() const { return events("start").at(0); }
    nlohmann::json summary() const;  // the "summary" line, or null

private:
    net::Process proc_;
};

// Sends each payload from a kernel UDP socket in ns to addr:port, paced.
void send_datagrams(const std::string& ns, const std::string& addr, uint16_t port,
                    const std::vector<std::string>& payloads);

// A connected kernel UDP socket in ns sends each payload to addr:port and
// waits up to timeout for the reply; returns how many replies were exactly
// the payload sent (from addr:port: the socket is connected).
int echo_exchanges(const std::string& ns, const std::string& addr, uint16_t port,
                   const std::vector<std::string>& payloads,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

// "tag 0 ....", "tag 1 ...": distinct payloads of varied sizes.
std::vector<std::string> tagged_payloads(const std::string& tag, int n);

}  // namespace xdpd::test
