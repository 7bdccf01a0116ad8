// `xdpd xsk rxdrop|l2fwd|echo`: the AF_XDP apps (src/xskapp/, docs/afxdp.md
// "Apps"). This file wires the command line only.
#pragma once
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "xskapp/options.hpp"

namespace xdpd::cli {

class XskCommand {
public:
    explicit XskCommand(CLI::App& app);  // adds `xsk` and its three subcommands
    bool chosen() const { return xsk_->parsed(); }
    int run(const Common& c);

private:
    void add_app(xskapp::AppKind kind, const std::string& help);

    CLI::App* xsk_ = nullptr;
    std::vector<std::pair<CLI::App*, xskapp::AppKind>> apps_;
    xskapp::AppOptions o_;
    int busy_poll_ = -1;  // --busy-poll[=usecs]; -1: off
};

}  // namespace xdpd::cli
