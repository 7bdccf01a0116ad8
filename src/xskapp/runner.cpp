#include "xskapp/runner.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "api/socket.hpp"
#include "xskapp/registration.hpp"
#include "xskapp/system.hpp"

namespace xdpd::xskapp {

const char* to_string(AppKind k) {
    switch (k) {
    case AppKind::rxdrop: return "rxdrop";
    case AppKind::l2fwd: return "l2fwd";
    case AppKind::echo: return "echo";
    }
    return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// SIGINT/SIGTERM are blocked in every thread and taken by sigtimedwait in the
// reporting loop: no handler, no async-signal-safety questions.
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

// Why nothing may arrive: the daemon steers nothing to AF_XDP (no `steer`
// rule, or its firewall off), or it cannot be asked. Nullopt when a rule steers.
std::optional<std::string> steer_rule_missing(const AppOptions& o) {
    nlohmann::json st;
    try {
        st = api::call(o.socket, {{"cmd", "status"}});
    } catch (const std::exception& e) {
        return fmt::format("could not ask xdpd at {} whether a rule steers to AF_XDP ({}); if nothing arrives, "
                           "check its config has one (pass the daemon's --socket)",
                           o.socket, e.what());
    }
    if (st.contains("steer") && st["steer"].value("enabled", false)) return std::nullopt;
    return "xdpd steers nothing to userspace: no firewall rule has `action: steer`, so nothing will arrive.\n" +
           steer_rule_hint(o.interface);
}

}  // namespace

Runner::Runner(AppOptions o) : o_(std::move(o)), reporter_(to_string(o_.app), o_.interface, o_.json, o_.quiet) {
    shared_.stop = &stop_;
    shared_.print = [this](const nlohmann::json& j, const std::string& t) { reporter_.emit(j, t); };
}

void Runner::open_queues() {
    std::vector<uint32_t> qs = o_.queues;
    if (qs.empty())
        for (uint32_t q = 0, n = rx_queue_count(o_.interface); q < n; ++q) qs.push_back(q);
    const std::vector<int> allowed = allowed_cpus();
    auto probe = make_handler(o_, shared_);
    for (size_t i = 0; i < qs.size(); ++i) {
        const int cpu = i < o_.cpus.size() ? o_.cpus[i] : allowed[i % allowed.size()];
        queues_.push_back(std::make_unique<Queue>(o_, qs[i], cpu, probe->transmits()));
    }
}

Sample Runner::sample(double elapsed) const {
    Sample s;
    s.elapsed = elapsed;
    for (const auto& q : queues_) s.queues.push_back(QueueSample::read(q->id(), q->counters(), q->socket().statistics()));
    return s;
}

nlohmann::json Runner::start_json() const {
    nlohmann::json qs = nlohmann::json::array();
    for (const auto& q : queues_) {
        nlohmann::json j{{"queue", q->id()},
                         {"cpu", q->cpu()},
                         {"mode", xsk::to_string(q->socket().mode())},
                         {"frames", q->umem().frame_count()},
                         {"frame_size", q->umem().frame_size()},
                         {"hugepages", q->umem().huge()}};
        if (!q->socket().mode_note().empty()) j["mode_note"] = q->socket().mode_note();
        if (o_.hugepages && !q->umem().huge()) j["hugepages_note"] = q->umem().note();
        qs.push_back(std::move(j));
    }
    nlohmann::json j{{"event", "start"}, {"app", to_string(o_.app)}, {"interface", o_.interface}, {"queues", qs}};
    if (o_.app == AppKind::echo) j["port"] = o_.port;
    return j;
}

int Runner::run() {
    const sigset_t sigs = stop_signals();
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // inherited by the workers

    open_queues();
    std::vector<std::pair<uint32_t, int>> fds;
    for (const auto& q : queues_) fds.emplace_back(q->id(), q->fd());
    std::optional<Registration> reg(std::in_place, o_.interface, o_.bpffs, fds);

    nlohmann::json sj = start_json();
    sj["slot"] = reg->slot();
    std::string text = fmt::format("xdpd xsk {} on {} (slot {}):", to_string(o_.app), o_.interface, reg->slot());
    for (const auto& q : sj["queues"])
        text += fmt::format(" q{} cpu {} {} mode;", q["queue"].get<uint32_t>(), q["cpu"].get<int>(),
                            q["mode"].get<std::string>());
    if (o_.app == AppKind::echo) text += fmt::format(" answering UDP port {};", o_.port);
    text += " Ctrl-C stops";
    reporter_.emit(sj, text);
    for (const auto& q : queues_)
        if (!q->socket().mode_note().empty())
            reporter_.emit({{"event", "note"}, {"queue", q->id()}, {"note", q->socket().mode_note()}},
                           "note: " + q->socket().mode_note());

    // Nothing arrives without a steer rule: ask the daemon (best effort).
    if (auto why = steer_rule_missing(o_)) reporter_.emit({{"event", "note"}, {"note", *why}}, "note: " + *why);

    // One worker per queue; an error in one stops them all and is rethrown.
    std::vector<std::unique_ptr<Handler>> handlers;
    std::vector<std::thread> workers;
    std::mutex err_mu;
    std::exception_ptr err;
    for (auto& q : queues_) {
        handlers.push_back(make_handler(o_, shared_));
        workers.emplace_back([&, qp = q.get(), h = handlers.back().get()] {
            try {
                qp->run(*h, stop_);
            } catch (...) {
                std::lock_guard lk(err_mu);
                if (!err) err = std::current_exception();
                stop_ = true;
            }
        });
    }

    const auto t0 = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    Sample prev = sample(0);
    auto next = t0 + std::chrono::seconds(1);
    std::string why = "error";
    while (true) {
        if (stop_) {
            why = o_.count ? "count" : "error";
            break;
        }
        if (o_.duration > 0 && elapsed() >= o_.duration) {
            why = "duration";
            break;
        }
        timespec ts{0, 100'000'000};  // 100 ms: --count and errors are noticed soon
        if (int sig = sigtimedwait(&sigs, nullptr, &ts); sig > 0) {
            why = sig == SIGINT ? "SIGINT" : "SIGTERM";
            break;
        }
        if (Clock::now() >= next) {
            next += std::chrono::seconds(1);
            Sample cur = sample(elapsed());
            reporter_.interval(prev, cur);
            prev = std::move(cur);
            if (auto note = reg->keep()) reporter_.emit({{"event", "note"}, {"note", *note}}, "note: " + *note);
        }
    }
    reg.reset();  // out of the XSKMAP first: traffic goes back to steer.no_socket
    stop_ = true;
    for (auto& t : workers) t.join();
    if (err) {
        try {
            std::rethrow_exception(err);
        } catch (const std::exception& e) {
            reporter_.emit({{"event", "error"}, {"error", e.what()}}, std::string("error: ") + e.what());
        }
        why = "error";
    }
    reporter_.summary(sample(elapsed()), why);
    return why == "error" ? 1 : 0;
}

int run_app(const AppOptions& o) {
    if (o.interface.empty()) throw std::invalid_argument("xsk: -i INTERFACE is required");
    if (o.frame_size != 2048 && o.frame_size != 4096) throw std::invalid_argument("xsk: --frame-size is 2048 or 4096");
    if (o.frames < 16) throw std::invalid_argument("xsk: --frames must be at least 16");
    if (o.batch == 0) throw std::invalid_argument("xsk: --batch must be at least 1");
    Runner r(o);
    return r.run();
}

}  // namespace xdpd::xskapp
