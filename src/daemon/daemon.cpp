#include "daemon/daemon.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <mutex>

#include "api/socket.hpp"
#include "bpf/libbpf_log.hpp"
#include "config/config.hpp"
#include "daemon/dataplane.hpp"
#include "daemon/lb_api.hpp"
#include "daemon/metrics.hpp"
#include "lb/health.hpp"
#include "metrics/http_server.hpp"
#include "mitigation/mitigator.hpp"
#include "observe/observer.hpp"
#include "util/clock.hpp"
#include "stats/snapshot.hpp"
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

// SIGHUP reloads, SIGTERM and SIGINT stop: read from a signalfd.
sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
    return set;
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
        open_event_log();
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
            lb_api_.retarget();
            for (const auto& n : dp_->lb_refresh()) spdlog::info("{}", n);
        } catch (const std::exception& e) {
            spdlog::error("could not start the load balancer's health checks: {}", e.what());
            return 1;
        }
        try {
            observer_ = std::make_unique<observe::Observer>(
                [this](const std::string& n) { return dp_->pinned(n); }, events_,
                [this](__u32 ifindex) { return ifname(ifindex); });
            observer_->configure(cfg_.observe);
        } catch (const std::exception& e) {
            spdlog::error("could not set up the observe stage (top sources, events, capture): {}", e.what());
            return 1;
        }
        facts_.start_time = double(time(nullptr));
        start_metrics();
        spdlog::info("xdpd {} running (pid {}), control socket {}", opts_.config_path, getpid(),
                     cfg_.daemon.socket);

        const sigset_t set = handled_signals();  // blocked in every thread since run()
        UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
        if (!sfd) throw SysError("signalfd", errno);

        // Housekeeping every second: expired bans leave the data plane.
        UniqueFd tick(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!tick) throw SysError("timerfd_create", errno);
        itimerspec every{{1, 0}, {1, 0}};
        timerfd_settime(tick.get(), 0, &every, nullptr);

        while (!stop_) {
            pollfd fds[5] = {{sfd.get(), POLLIN, 0}, {server.fd(), POLLIN, 0}, {tick.get(), POLLIN, 0},
                             {health_.event_fd(), POLLIN, 0}, {observer_->event_fd(), POLLIN, 0}};
            if (poll(fds, 5, -1) < 0) {
                if (errno == EINTR) continue;
                throw SysError("poll", errno);
            }
            // The metrics thread reads the same state.
            std::unique_lock lock(mu_);
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
            if (fds[4].revents & POLLIN) observer_->consume();
        }
        http_.reset();  // its thread may wait for mu_: stop it before the state goes
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

    void housekeeping() {
        const double now = monotonic_s();
        try {
            observer_->tick(now);
            if (dp_->exists()) {
                prev_snap_ = std::move(cur_snap_);
                cur_snap_ = stats::read(dp_->pinned("xdpd_ifaces"), dp_->pinned("xdpd_stats"));
            }
        } catch (const std::exception& e) {
            spdlog::warn("observe: {}", e.what());
        }
        try {
            if (mitigator_) mitigator_->tick();
        } catch (const std::exception& e) {
            spdlog::warn("mitigation: {}", e.what());
        }
        try {
            for (const auto& b : dp_->expire_bans())
                spdlog::info("ban of {} expired ({} packets dropped, origin {}{})", b.prefix.str(), b.hits,
                             shield::to_string(b.origin), b.reason.empty() ? "" : ", reason: " + b.reason);
            watch_links();
        } catch (const std::exception& e) {
            spdlog::warn("housekeeping: {}", e.what());
        }
    }

    // An interface whose XDP link stopped holding its program (the interface
    // was deleted, or another tool detached the link) is unprotected: an
    // event the moment it is seen, and another when it is attached again.
    void watch_links() {
        for (const auto& i : dp_->interfaces()) {
            const std::string name = i.value("name", "");
            const bool attached = i.value("attached", false);
            const auto [it, first] = link_attached_.try_emplace(name, attached);
            if ((first && attached) || (!first && it->second == attached)) continue;
            it->second = attached;
            if (attached) {
                events_.add("xdp_attached", "", {{"interface", name}, {"mode", i.value("mode", "")}});
            } else {
                events_.add("xdp_detached", "",
                            {{"interface", name},
                             {"error", i.value("error", "the XDP link holds no interface: the interface was deleted, "
                                                        "or another tool detached the program")},
                             {"remedy", "`xdpd reload` attaches it again once the interface is back"}});
            }
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
            rejected(e.what());
            throw std::runtime_error(fmt::format(
                "reload rejected, the previous config keeps running:\n{}", e.what()));
        }
        if (next.daemon.socket != cfg_.daemon.socket || next.daemon.bpffs != cfg_.daemon.bpffs)
            spdlog::warn("daemon.socket and daemon.bpffs changes take effect on restart only");
        next.daemon.socket = cfg_.daemon.socket;
        next.daemon.bpffs = cfg_.daemon.bpffs;
        ApplyReport r;
        try {
            health_.set_targets(health_targets(lb::effective(next.lb, dp_->lb_state())));  // new ones start up
            r = dp_->apply(next, opts_.replace);
        } catch (const std::exception& e) {
            lb_api_.retarget();  // back to the running config's
            rejected(e.what());
            throw std::runtime_error(fmt::format(
                "reload rejected, the previous config keeps running: {}", e.what()));
        }
        for (const auto& w : next.warnings) spdlog::warn("{}", w.str());
        mitigator_->configure(next.mitigation);
        observer_->configure(next.observe);
        const bool relisten = next.observe.metrics_listen != cfg_.observe.metrics_listen;
        cfg_ = std::move(next);
        ++reloads_;
        ++facts_.reloads_ok;
        if (relisten) start_metrics();
        events_.add("reload", "", {{"config", opts_.config_path}, {"notes", r.notes.size()}});
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
            j["observe"] = observer_->status();
            j["metrics"] = {{"listen", cfg_.observe.metrics_listen.empty() ? "off" : cfg_.observe.metrics_listen},
                            {"serving", bool(http_)}};
            if (!metrics_error_.empty()) j["metrics"]["error"] = metrics_error_;
            return j;
        }
        if (cmd == "stats") return dp_->stats();
        if (cmd == "top") return top_json(req.value("sources", size_t(0)));
        if (cmd == "metrics") return {{"text", render_metrics()}};
        if (cmd == "rules") return dp_->rules();
        if (cmd == "ban" || cmd == "allow") return shield_cmd(cmd, req);
        if (cmd == "mitigation") return mitigator_->status();
        if (cmd == "lb") return lb_api_.handle(req);
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
                                 "' (known: status stats top metrics rules reload monitor ban allow mitigation lb events detach)");
    }

    // A reload that failed: counted, and an event (with the verifier's or the
    // config's reasons).
    void rejected(const std::string& why) {
        ++facts_.reloads_rejected;
        events_.add("reload_rejected", "", {{"config", opts_.config_path}, {"error", why}});
    }

    std::string ifname(__u32 ifindex) const {
        for (const auto& i : cur_snap_.ifaces)
            if (i.ifindex == ifindex) return i.name;
        for (const auto& i : dp_->interfaces())  // before the first second's snapshot
            if (i.value("ifindex", 0u) == ifindex) return i.value("name", "");
        return "ifindex " + std::to_string(ifindex);
    }

    // Called with mu_ held (API), or by the metrics thread through serve().
    std::string render_metrics() {
        const auto t0 = std::chrono::steady_clock::now();
        std::string text = renderer_.render(*dp_, *mitigator_, events_, *observer_, facts_);
        facts_.last_scrape_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return text;
    }

    // (Re)starts the metrics endpoint; a failure is logged and reported in
    // status, the daemon goes on without it.
    // The event log survives restarts and upgrades in a file (daemon.event_log);
    // when it cannot be opened the daemon runs on with the log in memory.
    void open_event_log() {
        const std::string path = config::event_log_path(cfg_.daemon);
        size_t restored = 0;
        if (!path.empty()) {
            try {
                restored = events_.persist(path);
            } catch (const std::exception& e) {
                spdlog::warn("{}; the event log is kept in memory only (set daemon.event_log to a writable "
                             "file, or off)",
                             e.what());
            }
        }
        events_.add("start", "", {{"pid", getpid()}, {"event_log", path.empty() ? "off" : path},
                                   {"restored", restored}});
    }

    void start_metrics() {
        http_.reset();
        metrics_error_.clear();
        if (cfg_.observe.metrics_listen.empty()) return;
        try {
            http_ = std::make_unique<metrics::HttpServer>(cfg_.observe.metrics_listen, [this] {
                std::unique_lock lock(mu_, std::defer_lock);
                if (!lock.try_lock_for(std::chrono::seconds(5)))
                    throw std::runtime_error("the daemon is busy; try again");
                return render_metrics();
            });
            spdlog::info("metrics: serving http://{}/metrics", cfg_.observe.metrics_listen);
        } catch (const std::exception& e) {
            metrics_error_ = e.what();
            spdlog::error("{}", e.what());
            events_.add("metrics_failed", "", {{"error", e.what()}});
        }
    }

    // `xdpd top`: the last second's rates per interface, top sources, bans,
    // attacks.
    nlohmann::json top_json(size_t sources) {
        nlohmann::json j;
        j["time"] = double(time(nullptr));
        j["interfaces"] = prev_snap_.ifaces.empty() ? nlohmann::json::array() : stats::rates_json(prev_snap_, cur_snap_);
        j["source_sample"] = observer_->sample();
        j["sources"] = nlohmann::json::array();
        for (const auto& src : observer_->top(sources ? sources : cfg_.observe.top_sources))
            j["sources"].push_back({{"addr", src.addr}, {"pps", src.pps}, {"bps", src.bps},
                                    {"dropped_pps", src.dropped_pps}});
        auto bans = dp_->bans();
        std::sort(bans.begin(), bans.end(), [](const auto& a, const auto& b) { return a["hits"] > b["hits"]; });
        j["bans"] = {{"count", bans.size()}, {"top", nlohmann::json::array()}};
        for (size_t i = 0; i < bans.size() && i < 5; ++i) j["bans"]["top"].push_back(bans[i]);
        j["attacks"] = nlohmann::json::array();
        for (const auto& w : mitigator_->status()["watches"])
            if (w["state"] == "attack")
                j["attacks"].push_back({{"watch", w["name"]}, {"since", w.value("since", 0.0)}, {"rates", w["rates"]}});
        return j;
    }

    RunOptions opts_;
    config::Config cfg_;
    std::unique_ptr<DataPlane> dp_;
    mitigation::EventLog events_;  // outlives reloads
    std::map<std::string, bool> link_attached_;  // by interface, as last seen (watch_links)
    lb::HealthChecker health_;      // its thread probes the LB's backends
    LbApi lb_api_{dp_, health_, cfg_};
    std::unique_ptr<mitigation::Mitigator> mitigator_;
    std::unique_ptr<observe::Observer> observer_;
    std::timed_mutex mu_;  // the daemon's state, between its loop and the metrics thread
    MetricsRenderer renderer_;
    DaemonFacts facts_;
    std::unique_ptr<metrics::HttpServer> http_;
    std::string metrics_error_;
    stats::Snapshot prev_snap_, cur_snap_;  // the last two seconds' counters (`top`)
    std::chrono::steady_clock::time_point started_;
    bool stop_ = false, detach_requested_ = false;
    unsigned reloads_ = 0;
};

}  // namespace

int run(const RunOptions& opts) {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    bpf::install_libbpf_logger();
    // Blocked before any thread starts (the health checker's): threads inherit
    // the mask, and a signal the kernel handed to a thread that does not block
    // it would kill the daemon instead of reaching its signalfd.
    const sigset_t set = handled_signals();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    Daemon d(opts);
    try {
        return d.run();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace xdpd::daemon
