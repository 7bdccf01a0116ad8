#include "lab/daemon_process.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "api/socket.hpp"

namespace xdpd::lab {
namespace fs = std::filesystem;

DaemonPaths DaemonPaths::for_name(const std::string& name) {
    DaemonPaths p;
    p.dir = "/run/xdpd-" + name;
    p.config = p.dir + "/xdpd.yaml";
    p.socket = p.dir + "/xdpd.sock";
    p.bpffs = "/sys/fs/bpf/xdpd-" + name;
    fs::create_directories(p.dir);
    fs::permissions(p.dir, fs::perms::owner_all);
    return p;
}

DaemonProcess::DaemonProcess(std::string bin, std::string netns, DaemonPaths paths,
                             std::vector<std::string> extra, std::chrono::milliseconds ready_timeout)
    : bin_(std::move(bin)), netns_(std::move(netns)), paths_(std::move(paths)) {
    std::vector<std::string> argv = {bin_, "--netns", netns_, "run", "-c", paths_.config};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_.emplace(net::Process::spawn(nullptr, argv));
    // Ready means it answers a request: the socket is bound before the config
    // is applied (a second daemon must not touch this one's data plane), and
    // requests wait in the backlog until the first apply is done.
    auto answers = [&] {
        if (!api::reachable(paths_.socket)) return false;
        try {
            api::call(paths_.socket, {{"cmd", "status"}}, int(ready_timeout.count()));
            return true;
        } catch (const std::exception&) {
            return false;
        }
    };
    auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    while (!answers()) {
        if (!proc_->running())
            throw std::runtime_error(fmt::format("xdpd exited with code {} before it was ready:\n{}",
                                                 proc_->exit_code().value_or(-1), log()));
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("xdpd did not answer on " + paths_.socket + " in time:\n" + log());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

DaemonProcess::~DaemonProcess() {
    try {
        if (proc_ && proc_->running()) stop();
    } catch (...) {
    }
}

ScratchDataPlane::~ScratchDataPlane() {
    try {
        if (access((paths_.bpffs + "/xdpd_runtime").c_str(), F_OK) == 0)
            net::exec(nullptr, {bin_, "--netns", netns_, "--socket", paths_.socket + ".none", "--bpffs",
                                paths_.bpffs, "detach"},
                      std::chrono::seconds(30));
    } catch (...) {
    }
    std::error_code ec;
    fs::remove_all(paths_.dir, ec);
}

nlohmann::json DaemonProcess::call(const nlohmann::json& request) const {
    return api::call(paths_.socket, request);
}

net::CmdResult DaemonProcess::cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = {bin_, "--netns", netns_, "--socket", paths_.socket, "--bpffs", paths_.bpffs};
    argv.insert(argv.end(), args.begin(), args.end());
    return net::exec(nullptr, argv, std::chrono::seconds(30));
}

void DaemonProcess::stop(int sig) {
    if (!proc_) return;
    proc_->kill(sig);
    if (!proc_->wait(std::chrono::seconds(10))) proc_->stop();
}

void DaemonProcess::signal(int sig) {
    if (proc_) proc_->kill(sig);
}

void DaemonProcess::kill9() {
    if (!proc_) return;
    proc_->kill(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
}

}  // namespace xdpd::lab
