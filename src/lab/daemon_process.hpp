// DaemonProcess: a real `xdpd run` in a network namespace, as a child process,
// for the lab and the end-to-end tests. Uses --netns (not `ip netns exec`) so
// its pins land in the host's bpffs. The destructor stops the daemon (SIGTERM)
// but leaves what it pinned: that is ScratchDataPlane's job.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/process.hpp"

namespace xdpd::lab {

struct DaemonPaths {
    std::string dir;     // scratch directory for config and socket
    std::string config;  // dir + "/xdpd.yaml"
    std::string socket;  // dir + "/xdpd.sock"
    std::string bpffs;   // /sys/fs/bpf/<name>

    static DaemonPaths for_name(const std::string& name);  // /run/xdpd-<name>/..., /sys/fs/bpf/xdpd-<name>
};

// Owns a DaemonPaths: on destruction removes the data plane pinned there (as
// `xdpd detach` would, from the pins) and the scratch directory.
class ScratchDataPlane {
public:
    ScratchDataPlane(std::string xdpd_binary, std::string netns, DaemonPaths paths)
        : bin_(std::move(xdpd_binary)), netns_(std::move(netns)), paths_(std::move(paths)) {}
    ScratchDataPlane(const ScratchDataPlane&) = delete;
    ScratchDataPlane& operator=(const ScratchDataPlane&) = delete;
    ~ScratchDataPlane();
    const DaemonPaths& paths() const { return paths_; }

private:
    std::string bin_, netns_;
    DaemonPaths paths_;
};

class DaemonProcess {
public:
    // Starts `xdpd --netns NETNS run -c paths.config [extra args]` and waits until it
    // answers on its socket (or exits: then throws with its log).
    DaemonProcess(std::string xdpd_binary, std::string netns, DaemonPaths paths,
                  std::vector<std::string> extra_args = {},
                  std::chrono::milliseconds ready_timeout = std::chrono::seconds(15));
    DaemonProcess(DaemonProcess&&) = default;
    ~DaemonProcess();

    nlohmann::json call(const nlohmann::json& request) const;  // control API
    // Runs the xdpd CLI against this daemon: xdpd --netns N --socket S --bpffs B args...
    net::CmdResult cli(std::vector<std::string> args) const;

    void stop(int sig = SIGTERM);  // waits for the exit
    void signal(int sig);          // sends, does not wait
    void kill9();                  // a crash: no cleanup by the daemon
    bool running() { return proc_ && proc_->running(); }
    std::string log() const { return proc_ ? proc_->err() + proc_->out() : std::string(); }
    const DaemonPaths& paths() const { return paths_; }

private:
    std::string bin_, netns_;
    DaemonPaths paths_;
    std::optional<net::Process> proc_;
};

}  // namespace xdpd::lab
