// LbDaemon: the fixture of the load balancer's end-to-end tests. The LB lab
// (client, lb, three backends on one switch; src/net/lb_lab.hpp), a whoami
// TCP server (port 8080) and UDP server (port 5353) in every backend that
// answer with the backend's name, and the real xdpd binary as the daemon on
// lb0, serving VIPs in 10.99.0.0/24 and fd99::/64.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "lab/daemon_process.hpp"
#include "net/lb_lab.hpp"
#include "net/process.hpp"
#include "net/whoami.hpp"

namespace xdpd::test {
using namespace std::chrono_literals;
using net::LbLab;

class LbDaemon : public ::testing::Test {
protected:
    static constexpr uint16_t kTcpPort = 8080, kUdpPort = 5353;

    void SetUp() override {
        scratch_.emplace(XDPD_BINARY, lab_.lb().name(), lab::DaemonPaths::for_name(lab_.prefix()));
        paths_ = scratch_->paths();
        for (int i = 0; i < lab_.n_backends(); ++i) {
            tcp_.emplace_back(lab_.backend(i), kTcpPort, LbLab::backend_name(i));
            udp_.emplace_back(lab_.backend(i), kUdpPort, LbLab::backend_name(i));
        }
        deliver_xdp_tx();
    }

    void TearDown() override {
        if (HasFailure() && daemon_)
            std::fprintf(stderr, "---- xdpd (%s) log ----\n%s------------------\n",
                         daemon_->running() ? "running" : "exited", daemon_->log().c_str());
    }

    // XDP_TX on lb0 puts frames in the peer's (sw-lb's) XDP ring; an XDP
    // program there makes the kernel deliver them at once.
    void deliver_xdp_tx() {
        const std::string obj =
            (std::filesystem::path(XDPD_BINARY).parent_path() / "gen" / "baseline.bpf.o").string();
        net::exec_checked(&lab_.sw(), {"ip", "link", "set", "dev", LbLab::switch_port_lb(), "xdpdrv", "obj", obj,
                                       "sec", "xdp", "program", "xdp_pass"});
    }

    // The config: interfaces and daemon paths around `lb_section` (YAML of
    // the lb: key, indented by two).
    void write_config(const std::string& lb_section, const std::string& extra = "") {
        std::ofstream(paths_.config) << "interfaces:\n  - name: " << LbLab::lb_if() << "\n" << extra
                                     << "lb:\n" << lb_section << "daemon:\n  socket: " << paths_.socket
                                     << "\n  bpffs: " << paths_.bpffs << "\n";
    }

    // A service with the three backends at the given weights.
    static std::string service(const std::string& name, const std::string& vip, const std::string& proto,
                               uint16_t port, const std::string& mode, std::vector<int> weights,
                               uint16_t backend_port, int version = 4, const std::string& health = "") {
        std::string s = "    - name: " + name + "\n      vip: " + vip + "\n      proto: " + proto +
                        "\n      port: " + std::to_string(port) + "\n      mode: " + mode + "\n" + health +
                        "      backends:\n";
        for (size_t i = 0; i < weights.size(); ++i) {
            s += "        - addr: " + LbLab::backend_addr(int(i), version) + "\n";
            if (mode == "nat") s += "          port: " + std::to_string(backend_port) + "\n";
            s += "          weight: " + std::to_string(weights[i]) + "\n";
        }
        return s;
    }

    void start(std::vector<std::string> extra = {}) { daemon_.emplace(XDPD_BINARY, lab_.lb().name(), paths_, extra); }

    nlohmann::json lb_status() { return daemon_->call({{"cmd", "lb"}}); }

    LbLab lab_;
    std::optional<lab::ScratchDataPlane> scratch_;
    lab::DaemonPaths paths_;
    std::vector<net::WhoamiTcpServer> tcp_;
    std::vector<net::WhoamiUdpServer> udp_;
    std::optional<lab::DaemonProcess> daemon_;
};

}  // namespace xdpd::test
