// Running an external tool (ip, xdp-filter) and collecting what it printed.
#pragma once
#include <string>
#include <vector>

namespace xdpd::bench {

struct CommandResult {
    int status = -1;     // exit code; 128 + signal if killed; -1 if it could not start
    std::string output;  // stdout and stderr, interleaved
    bool ok() const { return status == 0; }
};

// Runs argv[0] (searched in PATH, then /usr/sbin and /sbin) without a shell.
CommandResult run_command(const std::vector<std::string>& argv);

// "ip link add ..." for messages.
std::string join(const std::vector<std::string>& argv);

// Absolute path of a program found in PATH, /usr/sbin or /sbin; empty if none.
std::string find_program(const std::string& name);

}  // namespace xdpd::bench
