#include "net/netns.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/process.hpp"
#include "util/error.hpp"

namespace xdpd::net {

Netns Netns::create(std::string name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        throw std::invalid_argument(fmt::format("invalid netns name '{}'", name));
    exec_checked(nullptr, {"ip", "netns", "add", name});
    Netns ns(std::move(name));  // owns it from here: a failure below deletes it
    exec_checked(nullptr, {"ip", "-n", ns.name_, "link", "set", "lo", "up"});
    spdlog::debug("net: created netns {}", ns.name_);
    return ns;
}

Netns::Netns(Netns&& o) noexcept : name_(std::exchange(o.name_, {})) {}

Netns& Netns::operator=(Netns&& o) noexcept {
    if (this != &o) {
        Netns old(std::move(*this));
        name_ = std::exchange(o.name_, {});
    }
    return *this;
}

Netns::~Netns() {
    if (name_.empty()) return;
    try {
        remove_netns(name_);
    } catch (const std::exception& e) {
        spdlog::warn("net: removing netns {}: {}", name_, e.what());
    }
}

std::string Netns::path() const { return "/run/netns/" + name_; }

UniqueFd Netns::open_fd() const {
    UniqueFd fd(::open(path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw SysError("open netns " + path(), errno);
    return fd;
}

std::string Netns::release() { return std::exchange(name_, {}); }

std::string unique_prefix(std::string_view base) {
    static std::atomic<unsigned> counter{0};
    unsigned n = counter++;
    // Letters after the digits of the pid keep "pid 12, #34" and "pid 123, #4" apart.
    std::string letters;
    do {
        letters.insert(letters.begin(), char('a' + n % 26));
        n /= 26;
    } while (n);
    return fmt::format("{}{}{}", base, getpid(), letters);
}

std::vector<std::string> list_netns() {
    // Lines look like "name (id: 3)" or just "name".
    CmdResult r = exec_checked(nullptr, {"ip", "netns", "list"});
    std::vector<std::string> names;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto end = line.find(' ');
        std::string name = line.substr(0, end);
        if (!name.empty()) names.push_back(std::move(name));
    }
    return names;
}

void remove_netns(const std::string& name) {
    // Processes keep a namespace (and its interfaces) alive after the delete;
    // stop them first.
    CmdResult pids = exec(nullptr, {"ip", "netns", "pids", name});
    if (!pids.ok()) {
        auto names = list_netns();
        if (std::find(names.begin(), names.end(), name) == names.end()) return;  // already gone
    }
    std::istringstream in(pids.out);
    long pid;
    while (in >> pid) {
        if (pid > 1 && pid != getpid()) {
            spdlog::debug("net: killing pid {} left in netns {}", pid, name);
            ::kill(pid_t(pid), SIGKILL);
        }
    }
    exec_checked(nullptr, {"ip", "netns", "del", name});
    spdlog::debug("net: deleted netns {}", name);
}

}  // namespace xdpd::net
