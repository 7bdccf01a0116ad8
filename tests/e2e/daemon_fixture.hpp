// Daemon: the fixture of the end-to-end tests. A namespace lab, TCP servers on
// ports 80 and 22 in the server namespace, and the real xdpd binary run as the
// daemon on srv0 (lab::DaemonProcess), with helpers for traffic and the API.
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
#include "net/lab_topology.hpp"
#include "net/ping.hpp"
#include "net/process.hpp"
#include "net/tcp.hpp"

namespace xdpd::test {

using namespace std::chrono_literals;
using net::Lab;

inline constexpr auto kDenied = 500ms;  // a dropped SYN is retried after 1 s: 500 ms tells drop from pass

class Daemon : public ::testing::Test {
protected:
    void SetUp() override {
        scratch_.emplace(XDPD_BINARY, lab_.server().name(), lab::DaemonPaths::for_name(lab_.prefix()));
        paths_ = scratch_->paths();
        web_.emplace(lab_.server(), 80);
        ssh_.emplace(lab_.server(), 22);
    }

    void TearDown() override {
        if (HasFailure() && daemon_)
            std::fprintf(stderr, "---- xdpd (%s) log ----\n%s------------------\n",
                         daemon_->running() ? "running" : "exited", daemon_->log().c_str());
    }

    void write_config(const std::string& body) {
        std::ofstream(paths_.config) << body << "\ndaemon:\n  socket: " << paths_.socket
                                     << "\n  bpffs: " << paths_.bpffs << "\n";
    }
    void start(std::vector<std::string> extra = {}) {
        daemon_.emplace(XDPD_BINARY, lab_.server().name(), paths_, extra);
    }
    bool tcp(uint16_t port, int v = 4, const net::Netns* from = nullptr) {
        return net::tcp_exchange(from ? *from : lab_.client(), Lab::server_addr(v), port, "x", kDenied);
    }
    bool ping(int v = 4, const net::Netns* from = nullptr) {
        return net::ping(from ? *from : lab_.client(), Lab::server_addr(v), 1, 1s).ok();
    }
    uint64_t rule_packets(const std::string& id) {
        for (const auto& r : daemon_->call({{"cmd", "rules"}}))
            if (r["id"] == id) return r["packets"].get<uint64_t>();
        ADD_FAILURE() << "no rule " << id;
        return 0;
    }
    uint64_t reason_packets(const std::string& reason) {
        auto s = daemon_->call({{"cmd", "stats"}});
        return s["interfaces"][0]["reasons"][reason]["packets"].get<uint64_t>();
    }
    // XDP_TX on srv0 puts the frame in the peer's (sw-srv's) XDP ring; without
    // NAPI there (no XDP program, no GRO) it is dropped or delayed for seconds.
    // A bare XDP_PASS program on the switch port makes the kernel deliver it at
    // once. Needed by every test where the daemon answers in XDP (SYN cookies).
    void deliver_xdp_tx() {
        const std::string obj =
            (std::filesystem::path(XDPD_BINARY).parent_path() / "gen" / "baseline.bpf.o").string();
        net::exec_checked(&lab_.sw(), {"ip", "link", "set", "dev", Lab::switch_port(Lab::Host::server), "xdpdrv",
                                       "obj", obj, "sec", "xdp", "program", "xdp_pass"});
    }
    // nft's synproxy checks the TCP checksum of IPv6 segments with the IPv4
    // routine (nf_ip_checksum in nft_synproxy_do_eval, Linux 6.18): a segment
    // whose checksum the stack must verify in software is dropped. NICs
    // verify TCP checksums (CHECKSUM_UNNECESSARY); in the lab, checksum
    // offload on the client's path does the same. For IPv6 SYN cookie tests.
    void offload_client_checksums() {
        net::exec_checked(&lab_.client(), {"ethtool", "-K", Lab::ifname(Lab::Host::client), "tx", "on"});
        net::exec_checked(&lab_.sw(), {"ethtool", "-K", Lab::switch_port(Lab::Host::client), "tx", "on"});
        net::exec_checked(&lab_.sw(), {"ethtool", "-K", Lab::switch_port(Lab::Host::server), "tx", "on"});
    }
    // hping3 --flood from the attacker at the server's IPv4 address; stops
    // when the returned process goes out of scope.
    net::Process flood(std::vector<std::string> args) {
        std::vector<std::string> argv = {"hping3", "--flood", "-q"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back(Lab::server_addr(4));
        return net::Process::spawn(&lab_.attacker(), argv);
    }
    std::string xdp_on_srv0() {
        return net::exec(&lab_.server(), {"ip", "-d", "link", "show", "srv0"}).out;
    }

    Lab lab_;
    std::optional<lab::ScratchDataPlane> scratch_;  // removes what the daemons pinned
    lab::DaemonPaths paths_;
    std::optional<net::TcpServer> web_, ssh_;
    std::optional<lab::DaemonProcess> daemon_;
};

}  // namespace xdpd::test
