// The xdpd daemon: applies a config to the data plane, serves the control API,
// reloads on SIGHUP or `xdpd reload`, exits on SIGTERM/SIGINT leaving the data
// plane running (or detaching it when daemon.on_exit is detach).
#pragma once
#include <string>

namespace xdpd::daemon {

struct RunOptions {
    std::string config_path;
    bool replace = false;         // take over interfaces that run another XDP program
    std::string log_level;        // overrides daemon.log_level when set
};

// Runs until told to stop; returns the process exit code.
int run(const RunOptions& opts);

}  // namespace xdpd::daemon
