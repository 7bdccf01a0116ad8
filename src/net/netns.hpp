// Netns: a named network namespace (ip netns add), deleted by its destructor,
// so `ip netns exec NAME ...` works for humans and other processes while it
// lives. Plus the names: unique_prefix() and listing/removing by name.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.hpp"

namespace xdpd::net {

class Netns {
public:
    // `ip netns add name`, then brings lo up. Throws CommandError if the name
    // is taken or invalid.
    static Netns create(std::string name);

    Netns(Netns&& o) noexcept;
    Netns& operator=(Netns&& o) noexcept;
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;
    // Kills the processes left in it (ip netns pids), then `ip netns del`.
    // Never throws; failures are logged.
    ~Netns();

    const std::string& name() const { return name_; }
    // "/run/netns/NAME": the bind mount that keeps the namespace alive.
    std::string path() const;
    // An fd for setns(fd, CLONE_NEWNET). Throws SysError.
    UniqueFd open_fd() const;

    // Gives up ownership: the namespace outlives this object. Returns its name.
    std::string release();

private:
    explicit Netns(std::string name) : name_(std::move(name)) {}
    std::string name_;  // empty: moved from or released
};

// base + pid + a per-process counter in letters: "xl4021a", "xl4021b", ...
// Short (interface names are at most 15 characters) and easy to grep in
// `ip netns list`. base should not end in a digit.
std::string unique_prefix(std::string_view base);

// Names in `ip netns list`, in its order.
std::vector<std::string> list_netns();

// Kills every process in the named namespace (SIGKILL), then deletes it.
// Throws CommandError if the delete fails; a missing namespace is not an error.
void remove_netns(const std::string& name);

}  // namespace xdpd::net
