#include "net/probe.hpp"

#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>

#include "net/process.hpp"

namespace xdpd::net {

int run_probe(const Netns& ns, std::string label, std::function<int()> fn, std::chrono::milliseconds timeout) {
    Process p = Process::fork(&ns, std::move(fn), std::move(label));
    auto rc = p.wait(timeout + std::chrono::seconds(2));
    if (!rc) return ETIMEDOUT;
    if (*rc >= 125) throw std::runtime_error(fmt::format("{}: exit {}: {}", p.label(), *rc, p.err()));
    return *rc;
}

}  // namespace xdpd::net
