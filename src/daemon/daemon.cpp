#include "daemon/daemon.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>

#include "api/socket.hpp"
#include "bpf/libbpf_log.hpp"
#include "config/config.hpp"
#include "daemon/dataplane.hpp"
#include "lb/health.hpp"
#include "mitigation/mitigator.hpp"
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

// Health check targets of the config's LB services (key: lb::backend_key).
std::vector<lb::HealthTarget> health_targets(const config::LbConfig& cfg) {
    std::vector<lb::HealthTarget> out;
    if (!cfg.enabled) return out;
    for (const auto& s : cfg.services)
        for (const auto& b : s.backends) {
            lb::HealthTarget t;
            t.key = lb::backend_key(s, b);
            char buf[64] = {};
            inet_ntop(b.addr.family == 4 ? AF_INET : AF_INET6, b.addr.addr.data(), buf, sizeof buf);
            t.addr = buf;
            t.port = b.port ? b.port : s.port;
            const auto& h = s.health;
            using T = lb::HealthCheckSpec::Type;
            t.spec.type = h.type == "tcp" ? T::tcp : h.type == "http" ? T::http : h.type == "udp" ? T::udp : T::none;
            if (!t.port && t.spec.type != T::none && !h.port) t.spec.type = T::none;  // all ports, no check port
            t.spec.interval = h.interval;
            t.spec.timeout = h.timeout;
            t.spec.rise = h.rise;
            t.spec.fall = h.fall;
            t.spec.port = h.port;
            t.spec.http_path = h.path;
            t.spec.http_status = h.status;
            t.spec.http_host = h.host;
            t.spec.udp_payload = h.payload;
            t.spec.udp_expect = h.expect;
            out.push_back(std::move(t));
        }
    return out;
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
        // The socket first: a second daemon on the same socket must fail
        // before it touches the first one's data plane.
        api::Server server(cfg_.daemon.socket);
        dp_ = std::make_unique<DataPlane>(cfg_.daemon.bpffs);
        try {
            log_report(dp_->apply(cfg_, opts_.replace));
        } catch (const std::exception& e) {
            spdlog::error("could not apply {}: {}", opts_.config_path, e.what());
            return 1;
        }
        try {
            mitigator_ = std::make_unique<mitigation::Mitigator>(
                mitigation::WatchMaps([this](const std::string& n) { return dp_->pinned(n); }),
                [this](const fw::Cidr& src, std::chrono::seconds d, const std::string& why) {
                    dp_->ban(src.str(), d, why, XDPD_ORIGIN_AUTO);
                },
                events_);
            mitigator_->configure(cfg_.mitigation);
        } catch (const std::exception& e) {
            spdlog::error("could not set up automatic mitigation: {}", e.what());
            return 1;
        }
        // Health checks: their state decides which backends are in the rings.
        dp_->lb_state().healthy = [this](const std::string& key) { return health_.is_up(key); };
        try {
            health_.set_targets(health_targets(cfg_.lb));
            for (const auto& n : dp_->lb_refresh()) spdlog::info("{}", n);
        } catch (const std::exception& e) {
            spdlog::error("could not start the load balancer's health checks: {}", e.what());
            return 1;
        }
        spdlog::info("xdpd {} running (pid {}), control socket {}", opts_.config_path, getpid(),
                     cfg_.daemon.socket);

        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
        if (!sfd) throw SysError("signalfd", errno);

        // Housekeeping every second: expired bans leave the data plane.
        UniqueFd tick(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!tick) throw SysError("timerfd_create", errno);
        itimerspec every{{1, 0}, {1, 0}};
        timerfd_settime(tick.get(), 0, &every, nullptr);

        while (!stop_) {
            pollfd fds[4] = {{sfd.get(), POLLIN, 0}, {server.fd(), POLLIN, 0}, {tick.get(), POLLIN, 0},
                             {health_.event_fd(), POLLIN, 0}};
            if (poll(fds, 4, -1) < 0) {
                if (errno == EINTR) continue;
                throw SysError("poll", errno);
            }
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si{};
                if (read(sfd.get(), &si, sizeof si) == sizeof si) on_signal(int(si.ssi_signo));
            }
            if (fds[1].revents & POLLIN)
                server.serve_one([this](const nlohmann::json& req) { return handle(req); });
            if (fds[2].revents & POLLIN) {
                uint64_t n;
                if (read(tick.get(), &n, sizeof n) == sizeof n) housekeeping();
            }
            if (fds[3].revents & POLLIN) on_health_changes();
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

    // Backends that came up or went down: rings rebuilt at once (only the
    // entries of the backend that changed move), events logged.
    void on_health_changes() {
        auto changes = health_.drain();
        if (changes.empty()) return;
        for (const auto& c : changes)
            events_.add(c.up ? "backend_up" : "backend_down", c.key.substr(0, c.key.find('/')),
                        {{"backend", c.key.substr(c.key.find('/') + 1)}, {"why", c.why}});
        try {
            for (const auto& n : dp_->lb_refresh()) spdlog::info("{}", n);
        } catch (const std::exception& e) {
            spdlog::error("lb: could not apply health changes: {}", e.what());
        }
    }

    nlohmann::json lb_cmd(const nlohmann::json& req) {
        const std::string op = req.value("op", "status");
        if (op == "status") return {{"services", dp_->lb_status()}, {"health", health_.status()}};
        if (op == "lookup")
            return dp_->lb_lookup(req.value("proto", "tcp"), req.at("src").get<std::string>(),
                                  req.at("sport").get<uint16_t>(), req.at("dst").get<std::string>(),
                                  req.at("dport").get<uint16_t>());
        if (op == "weight") {
            const std::string svc = req.at("service").get<std::string>(), be = req.at("backend").get<std::string>();
            const config::LbServiceConfig* s = nullptr;
            for (const auto& x : cfg_.lb.services)
                if (x.name == svc) s = &x;
            if (!s) throw std::runtime_error("no lb service named '" + svc + "'");
            // The backend by its id ("10.78.0.11:8080", "[fd78::11]:8080") or its
            // address alone (IPv6 with or without brackets).
            const config::LbBackendConfig* b = nullptr;
            for (const auto& x : s->backends) {
                const std::string id = x.id(), addr = id.substr(0, id.rfind(':'));
                if (id == be || addr == be || (addr.size() > 2 && addr.front() == '[' && addr.substr(1, addr.size() - 2) == be))
                    b = &x;
            }
            if (!b) throw std::runtime_error("service '" + svc + "' has no backend " + be);
            const std::string key = lb::backend_key(*s, *b);
            if (req.contains("weight") && !req["weight"].is_null()) {
                const auto w = req["weight"].get<int64_t>();
                if (w < 0 || w > 1000) throw std::runtime_error("weight must be 0-1000");
                dp_->lb_state().weights[key] = unsigned(w);
                spdlog::info("lb: {} weight set to {}{}", key, w, w == 0 ? " (draining: no new flows)" : "");
            } else {
                dp_->lb_state().weights.erase(key);
                spdlog::info("lb: {} weight back to the config's {}", key, b->weight);
            }
            nlohmann::json notes = dp_->lb_refresh();
            return {{"backend", key}, {"weight", req.value("weight", nlohmann::json(b->weight))}, {"notes", notes}};
        }
        throw std::runtime_error("unknown lb operation '" + op + "' (status, lookup, weight)");
    }

    void housekeeping() {
        try {
            if (mitigator_) mitigator_->tick();
        } catch (const std::exception& e) {
            spdlog::warn("mitigation: {}", e.what());
        }
        try {
            for (const auto& b : dp_->expire_bans())
                spdlog::info("ban of {} expired ({} packets dropped, origin {}{})", b.prefix.str(), b.hits,
                             shield::to_string(b.origin), b.reason.empty() ? "" : ", reason: " + b.reason);
        } catch (const std::exception& e) {
            spdlog::warn("housekeeping: {}", e.what());
        }
    }

    nlohmann::json shield_cmd(const std::string& cmd, const nlohmann::json& req) {
        const std::string op = req.value("op", "list");
        if (op == "list") return cmd == "ban" ? dp_->bans() : dp_->allowed();
        const std::string prefix = req.at("prefix").get<std::string>();
        if (cmd == "ban" && op == "add") {
            std::optional<std::chrono::seconds> d;
            if (req.contains("duration_s") && !req["duration_s"].is_null())
                d = std::chrono::seconds(req["duration_s"].get<int64_t>());
            std::string reason = req.value("reason", "");
            dp_->ban(prefix, d, reason);
            spdlog::info("banned {} {}{}", prefix,
                         d ? fmt::format("for {} s", d->count()) : std::string("until unbanned"),
                         reason.empty() ? "" : " (" + reason + ")");
            return {{"banned", prefix}};
        }
        if (cmd == "ban" && op == "del") {
            if (!dp_->unban(prefix)) throw std::runtime_error(prefix + " is not banned");
            spdlog::info("unbanned {}", prefix);
            return {{"unbanned", prefix}};
        }
        if (cmd == "allow" && op == "add") {
            dp_->allow(prefix);
            spdlog::info("allow-listed {}", prefix);
            return {{"allowed", prefix}};
        }
        if (cmd == "allow" && op == "del") {
            if (!dp_->disallow(prefix)) throw std::runtime_error(prefix + " is not on the allow list");
            spdlog::info("removed {} from the allow list", prefix);
            return {{"removed", prefix}};
        }
        throw std::runtime_error("unknown " + cmd + " operation '" + op + "' (add, del, list)");
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
            health_.set_targets(health_targets(next.lb));  // new backends start up
            r = dp_->apply(next, opts_.replace);
        } catch (const std::exception& e) {
            health_.set_targets(health_targets(cfg_.lb));
            throw std::runtime_error(fmt::format(
                "reload rejected, the previous config keeps running: {}", e.what()));
        }
        for (const auto& w : next.warnings) spdlog::warn("{}", w.str());
        mitigator_->configure(next.mitigation);
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
            const auto m = mitigator_->status();
            nlohmann::json attacks = nlohmann::json::array();
            for (const auto& w : m["watches"])
                if (w["state"] == "attack") attacks.push_back(w["name"]);
            j["mitigation"] = {{"enabled", m["enabled"]}, {"watches", m["watches"].size()},
                               {"under_attack", attacks}, {"events", events_.last_seq()}};
            return j;
        }
        if (cmd == "stats") return dp_->stats();
        if (cmd == "rules") return dp_->rules();
        if (cmd == "ban" || cmd == "allow") return shield_cmd(cmd, req);
        if (cmd == "mitigation") return mitigator_->status();
        if (cmd == "lb") return lb_cmd(req);
        if (cmd == "events") return events_.since(req.value("after", uint64_t(0)));
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
                                 "' (known: status stats rules reload monitor ban allow mitigation lb events detach)");
    }

    RunOptions opts_;
    config::Config cfg_;
    std::unique_ptr<DataPlane> dp_;
    mitigation::EventLog events_;  // outlives reloads
    lb::HealthChecker health_;      // its thread probes the LB's backends
    std::unique_ptr<mitigation::Mitigator> mitigator_;
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
