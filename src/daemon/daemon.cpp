#include "daemon/daemon.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>

#include "api/socket.hpp"
#include "bpf/libbpf_log.hpp"
#include "config/config.hpp"
#include "daemon/dataplane.hpp"
#include "util/error.hpp"

namespace xdpd::daemon {
namespace {

void log_report(const ApplyReport& r) {
    for (const auto& n : r.notes) spdlog::info("{}", n);
    for (const auto& w : r.warnings) spdlog::warn("{}", w);
    spdlog::info("firewall: {} rules in {} match shapes, {} entries, generation {}", r.rules.rules,
                 r.rules.tuples, r.rules.entries, r.rules.generation);
}

nlohmann::json report_json(const ApplyReport& r) {
    return {{"notes", r.notes},
            {"warnings", r.warnings},
            {"rules", r.rules.rules},
            {"tuples", r.rules.tuples},
            {"entries", r.rules.entries},
            {"generation", r.rules.generation}};
}

class Daemon {
public:
    explicit Daemon(const RunOptions& o) : opts_(o) {}

    int run() {
        try {
            cfg_ = config::load_file(opts_.config_path);
        } catch (const config::ConfigError& e) {
            spdlog::error("config rejected:\n{}", e.what());
            return 1;
        }
        for (const auto& w : cfg_.warnings) spdlog::warn("{}", w.str());
        spdlog::set_level(spdlog::level::from_str(opts_.log_level.empty() ? cfg_.daemon.log_level
                                                                          : opts_.log_level));
        started_ = std::chrono::steady_clock::now();
        dp_ = std::make_unique<DataPlane>(cfg_.daemon.bpffs);
        try {
            log_report(dp_->apply(cfg_, opts_.replace));
        } catch (const std::exception& e) {
            spdlog::error("could not apply {}: {}", opts_.config_path, e.what());
            return 1;
        }
        api::Server server(cfg_.daemon.socket);
        spdlog::info("xdpd {} running (pid {}), control socket {}", opts_.config_path, getpid(),
                     cfg_.daemon.socket);

        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
        if (!sfd) throw SysError("signalfd", errno);

        while (!stop_) {
            pollfd fds[2] = {{sfd.get(), POLLIN, 0}, {server.fd(), POLLIN, 0}};
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                throw SysError("poll", errno);
            }
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si{};
                if (read(sfd.get(), &si, sizeof si) == sizeof si) on_signal(int(si.ssi_signo));
            }
            if (fds[1].revents & POLLIN)
                server.serve_one([this](const nlohmann::json& req) { return handle(req); });
        }
        if (detach_requested_ || cfg_.daemon.detach_on_exit) {
            for (const auto& n : dp_->detach_all()) spdlog::info("{}", n);
            spdlog::info("data plane removed; exiting");
        } else {
            spdlog::info("exiting; the data plane stays attached and keeps its state "
                         "(`xdpd detach` removes it)");
        }
        return 0;
    }

private:
    void on_signal(int sig) {
        if (sig == SIGHUP) {
            try {
                reload();
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
            }
            return;
        }
        spdlog::info("received {}", strsignal(sig));
        stop_ = true;
    }

    nlohmann::json reload() {
        spdlog::info("reloading {}", opts_.config_path);
        config::Config next;
        try {
            next = config::load_file(opts_.config_path);
        } catch (const config::ConfigError& e) {
            throw std::runtime_error(fmt::format(
                "reload rejected, the previous config keeps running:\n{}", e.what()));
        }
        if (next.daemon.socket != cfg_.daemon.socket || next.daemon.bpffs != cfg_.daemon.bpffs)
            spdlog::warn("daemon.socket and daemon.bpffs changes take effect on restart only");
        next.daemon.socket = cfg_.daemon.socket;
        next.daemon.bpffs = cfg_.daemon.bpffs;
        ApplyReport r;
        try {
            r = dp_->apply(next, opts_.replace);
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format(
                "reload rejected, the previous config keeps running: {}", e.what()));
        }
        for (const auto& w : next.warnings) spdlog::warn("{}", w.str());
        cfg_ = std::move(next);
        ++reloads_;
        log_report(r);
        return report_json(r);
    }

    nlohmann::json handle(const nlohmann::json& req) {
        const std::string cmd = req.value("cmd", "");
        if (cmd == "status") {
            auto j = dp_->status();
            j["pid"] = getpid();
            j["config"] = opts_.config_path;
            j["reloads"] = reloads_;
            j["uptime_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
            return j;
        }
        if (cmd == "stats") return dp_->stats();
        if (cmd == "rules") return dp_->rules();
        if (cmd == "reload") return reload();
        if (cmd == "monitor") {
            bool on = req.at("on").get<bool>();
            dp_->set_monitor(on);
            spdlog::info("monitor mode {}", on ? "on: deny verdicts are counted, not enforced" : "off");
            return {{"monitor", on}};
        }
        if (cmd == "detach") {
            detach_requested_ = true;
            stop_ = true;
            return {{"detaching", true}};
        }
        throw std::runtime_error("unknown command '" + cmd +
                                 "' (known: status stats rules reload monitor detach)");
    }

    RunOptions opts_;
    config::Config cfg_;
    std::unique_ptr<DataPlane> dp_;
    std::chrono::steady_clock::time_point started_;
    bool stop_ = false, detach_requested_ = false;
    unsigned reloads_ = 0;
};

}  // namespace

int run(const RunOptions& opts) {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    bpf::install_libbpf_logger();
    Daemon d(opts);
    try {
        return d.run();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace xdpd::daemon
