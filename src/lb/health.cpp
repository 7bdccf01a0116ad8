#include "lb/health.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/socket_addr.hpp"
#include "util/error.hpp"
#include "util/netns.hpp"

namespace xdpd::lb {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* to_string(HealthCheckSpec::Type t) {
    switch (t) {
        case HealthCheckSpec::Type::none: return "none";
        case HealthCheckSpec::Type::tcp: return "tcp";
        case HealthCheckSpec::Type::http: return "http";
        case HealthCheckSpec::Type::udp: return "udp";
    }
    return "?";
}

struct HealthChecker::Target {
    HealthTarget t;
    uint16_t check_port = 0;
    net::SocketAddr to;   // probed types only
    std::string request;  // http: the GET

    bool up = true;
    unsigned ok_run = 0, fail_run = 0;
    uint64_t checks = 0, failures = 0;
    std::string last_error;
    std::optional<double> last_latency_ms;
    int64_t since = 0;
    Clock::time_point next_due;

    // The probe in flight (phase != idle).
    enum class Phase { idle, connecting, sending, reading } phase = Phase::idle;
    UniqueFd fd;
    uint64_t gen = 0;  // of this probe: poll results of an older one are ignored
    Clock::time_point started, deadline;
    size_t sent = 0;
    std::string in;

    bool probed() const { return t.spec.type != HealthCheckSpec::Type::none; }
};

namespace {

std::atomic<uint64_t> g_probe_gen{0};  // probe ids, unique in the process

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string errstr(int err) { return std::strerror(err); }

// What a peer sent, fit for a log line: printable ASCII, at most 64 bytes.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f)
            out += c;
        else
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
    if (s.size() > 64) out += "...";
    return out;
}

std::string host_header(const HealthTarget& t, uint16_t port) {
    if (!t.spec.http_host.empty()) return t.spec.http_host;
    std::string h = t.addr.find(':') != std::string::npos ? "[" + t.addr + "]" : t.addr;
    if (port != 80) h += fmt::format(":{}", port);
    return h;
}

bool has_crlf(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

void validate(const HealthTarget& t) {
    const auto& s = t.spec;
    auto bad = [&](const std::string& what) {
        throw std::invalid_argument(fmt::format("health check of {}: {}", t.key, what));
    };
    if (t.key.empty()) throw std::invalid_argument(fmt::format("health check of {}:{}: empty key", t.addr, t.port));
    if (s.type == HealthCheckSpec::Type::none) return;
    if (s.interval.count() <= 0) bad("interval must be positive");
    if (s.timeout.count() <= 0) bad("timeout must be positive");
    if (s.rise == 0 || s.fall == 0) bad("rise and fall must be at least 1");
    if ((s.port ? s.port : t.port) == 0) bad("no port to check");
    if (s.type == HealthCheckSpec::Type::http) {
        if (s.http_path.empty() || s.http_path[0] != '/') bad("http_path must start with '/'");
        if (has_crlf(s.http_path) || has_crlf(s.http_host)) bad("http_path and http_host must be one line");
        if (s.http_status < 100 || s.http_status > 999) bad("http_status must be a 3-digit status code");
    }
    try {
        net::make_sockaddr(t.addr, 0);
    } catch (const std::invalid_argument& e) {
        bad(e.what());
    }
}

}  // namespace

HealthChecker::HealthChecker(std::string netns) : netns_(std::move(netns)) {
    event_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!event_fd_) throw SysError("eventfd", errno);
    wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake_fd_) throw SysError("eventfd", errno);

    std::promise<void> started;
    auto ready = started.get_future();
    // The thread owns the promise: it may still be in set_value() when we return.
    thread_ = std::thread([this, started = std::move(started)]() mutable {
        // Signals are the owner's: a process-directed SIGHUP/SIGTERM must not
        // land here, where it would take its default action (the daemon
        // reads them from a signalfd), whatever mask the owner had.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        try {
            if (!netns_.empty()) util::enter_netns(netns_);
        } catch (...) {
            started.set_exception(std::current_exception());
            return;
        }
        started.set_value();
        run();
    });
    try {
        ready.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

HealthChecker::~HealthChecker() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
}

void HealthChecker::wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof one);
}

void HealthChecker::set_targets(std::vector<HealthTarget> targets) {
    std::set<std::string> keys;
    for (const auto& t : targets) {
        validate(t);
        if (!keys.insert(t.key).second) throw std::invalid_argument("health check: duplicate key " + t.key);
    }

    std::lock_guard lock(mu_);
    auto now = Clock::now();
    int64_t unix_s = unix_now();
    size_t fresh_probed = 0;
    for (const auto& t : targets) {
        auto it = targets_.find(t.key);
        if ((it == targets_.end() || !(it->second->t == t)) && t.spec.type != HealthCheckSpec::Type::none)
            ++fresh_probed;
    }

    std::map<std::string, std::unique_ptr<Target>> next;
    std::set<std::string> reset;  // keys whose queued changes are stale: reset or removed
    std::vector<std::string> reset_from_down;
    size_t j = 0;
    for (auto& t : targets) {
        auto it = targets_.find(t.key);
        if (it != targets_.end() && it->second->t == t) {
            next.emplace(t.key, std::move(it->second));
            continue;
        }
        if (it != targets_.end()) {
            reset.insert(t.key);
            if (!it->second->up) reset_from_down.push_back(t.key);
        }
        auto n = std::make_unique<Target>();
        n->t = std::move(t);
        const auto& nt = n->t;
        n->check_port = nt.spec.port ? nt.spec.port : nt.port;
        n->since = unix_s;
        if (n->probed()) {
            n->to = net::make_sockaddr(nt.addr, n->check_port);
            // First probes spread over one interval.
            n->next_due = now + nt.spec.interval * j++ / fresh_probed;
            if (nt.spec.type == HealthCheckSpec::Type::http)
                n->request = fmt::format(
                    "GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\nUser-Agent: xdpd-health\r\n\r\n",
                    nt.spec.http_path, host_header(nt, n->check_port));
        }
        next.emplace(nt.key, std::move(n));
    }
    for (const auto& [key, old] : targets_)
        if (old && !next.count(key)) reset.insert(key);

    std::erase_if(changes_, [&](const HealthChange& c) { return reset.count(c.key) > 0; });
    if (changes_.empty()) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(event_fd_.get(), &v, sizeof v);
    }
    targets_ = std::move(next);  // the old ones (and their probe sockets) go here
    for (const auto& key : reset_from_down) queue_change(*targets_[key], true, "health check changed, up until probed");
    wake();
}

std::vector<HealthChange> HealthChecker::drain() {
    std::lock_guard lock(mu_);
    std::vector<HealthChange> out(std::make_move_iterator(changes_.begin()), std::make_move_iterator(changes_.end()));
    changes_.clear();
    uint64_t v;
    [[maybe_unused]] ssize_t r = read(event_fd_.get(), &v, sizeof v);
    return out;
}

bool HealthChecker::is_up(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = targets_.find(key);
    return it != targets_.end() && it->second->up;
}

nlohmann::json HealthChecker::status() const {
    std::lock_guard lock(mu_);
    auto out = nlohmann::json::array();
    for (const auto& [key, t] : targets_) {
        out.push_back({
            {"key", key},
            {"addr", t->t.addr},
            {"port", t->t.port},
            {"check_port", t->check_port},
            {"type", to_string(t->t.spec.type)},
            {"state", t->up ? "up" : "down"},
            {"consecutive_ok", t->ok_run},
            {"consecutive_fail", t->fail_run},
            {"checks", t->checks},
            {"failures", t->failures},
            {"last_error", t->last_error},
            {"last_latency_ms", t->last_latency_ms ? nlohmann::json(*t->last_latency_ms) : nlohmann::json(nullptr)},
            {"since", t->since},
        });
    }
    return out;
}

void HealthChecker::queue_change(Target& t, bool up, std::string why) {
    t.since = unix_now();
    if (up)
        spdlog::info("lb health: backend {} is UP ({} check of {} port {}): {}", t.t.key, to_string(t.t.spec.type),
                     t.t.addr, t.check_port, why);
    else
        spdlog::warn("lb health: backend {} is DOWN ({} check of {} port {}): {}", t.t.key,
                     to_string(t.t.spec.type), t.t.addr, t.check_port, why);
    changes_.push_back({t.t.key, up, std::move(why)});
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd_.get(), &one, sizeof one);
}

void HealthChecker::finish(Target& t, bool ok, std::string detail, Clock::time_point now) {
    t.fd.reset();
    t.phase = Target::Phase::idle;
    t.in.clear();
    ++t.checks;
    t.last_latency_ms = std::chrono::duration<double, std::milli>(now - t.started).count();
    const auto& s = t.t.spec;
    if (ok) {
        ++t.ok_run;
        t.fail_run = 0;
        spdlog::trace("lb health: {} ok: {}", t.t.key, detail);
        if (!t.up && t.ok_run >= s.rise) {
            t.up = true;
            queue_change(t, true, fmt::format("{} consecutive successes: {}", t.ok_run, detail));
        }
    } else {
        ++t.failures;
        ++t.fail_run;
        t.ok_run = 0;
        spdlog::debug("lb health: {} failed: {}", t.t.key, detail);
        t.last_error = detail;
        if (t.up && t.fail_run >= s.fall) {
            t.up = false;
            queue_change(t, false, fmt::format("{} consecutive failures: {}", t.fail_run, std::move(detail)));
        }
    }
}

void HealthChecker::start_probe(Target& t, Clock::time_point now) {
    const auto& s = t.t.spec;
    t.gen = ++g_probe_gen;
    t.started = now;
    t.deadline = now + s.timeout;
    t.next_due = now + s.interval;
    t.sent = 0;
    t.in.clear();
    bool udp = s.type == HealthCheckSpec::Type::udp;
    t.fd.reset(socket(t.to.family(), (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!t.fd) return finish(t, false, "socket: " + errstr(errno), now);
    if (connect(t.fd.get(), t.to.get(), t.to.len) != 0) {
        if (errno != EINPROGRESS || udp) return finish(t, false, "connect: " + errstr(errno), now);
        t.phase = Target::Phase::connecting;
        return;
    }
    if (udp) {
        if (send(t.fd.get(), s.udp_payload.data(), s.udp_payload.size(), 0) < 0)
            return finish(t, false, "send: " + errstr(errno), now);
        t.phase = Target::Phase::reading;
        return;
    }
    // A TCP connect that completed at once.
    t.phase = Target::Phase::connecting;
    advance(t, POLLOUT, now);
}

void HealthChecker::advance(Target& t, short revents, Clock::time_point now) {
    using P = Target::Phase;
    const auto& s = t.t.spec;
    if (t.phase == P::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(t.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err) return finish(t, false, "connect: " + errstr(err), now);
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
        if (s.type == HealthCheckSpec::Type::tcp) return finish(t, true, "connected", now);
        t.phase = P::sending;
    }
    if (t.phase == P::sending) {
        ssize_t w = send(t.fd.get(), t.request.data() + t.sent, t.request.size() - t.sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return finish(t, false, "send: " + errstr(errno), now);
        }
        t.sent += size_t(w);
        if (t.sent < t.request.size()) return;
        t.phase = P::reading;
        return;  // the answer comes later: wait for POLLIN
    }
    if (t.phase != P::reading) return;

    char buf[2048];
    ssize_t r = recv(t.fd.get(), buf, sizeof buf, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        int err = errno;
        if (s.type == HealthCheckSpec::Type::udp && err == ECONNREFUSED)
            return finish(t, false, "recv: " + errstr(err) + " (ICMP port unreachable)", now);
        return finish(t, false, "recv: " + errstr(err), now);
    }
    if (s.type == HealthCheckSpec::Type::udp) {
        std::string_view reply(buf, size_t(r));
        if (!s.udp_expect.empty() && reply.find(s.udp_expect) == std::string_view::npos)
            return finish(t, false,
                          fmt::format("reply '{}' does not contain '{}'", printable(reply), printable(s.udp_expect)),
                          now);
        return finish(t, true, fmt::format("reply of {} bytes", r), now);
    }

    // http: up to the end of the status line.
    if (r == 0)
        return finish(t, false,
                      t.in.empty() ? "connection closed before any answer"
                                   : fmt::format("connection closed in the status line '{}'", printable(t.in)),
                      now);
    t.in.append(buf, size_t(r));
    auto eol = t.in.find('\n');
    if (eol == std::string::npos) {
        if (t.in.size() > 1024) return finish(t, false, fmt::format("no status line: '{}'", printable(t.in)), now);
        return;
    }
    std::string line = t.in.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // "HTTP/1.1 200 OK"
    int code = -1;
    auto sp = line.find(' ');
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (line.starts_with("HTTP/") && sp != std::string::npos && line.size() >= sp + 4 &&
        std::all_of(line.begin() + long(sp) + 1, line.begin() + long(sp) + 4, digit) &&
        (line.size() == sp + 4 || line[sp + 4] == ' '))
        code = std::stoi(line.substr(sp + 1, 3));
    if (code < 0) return finish(t, false, fmt::format("bad status line '{}'", printable(line)), now);
    if (code != s.http_status)
        return finish(t, false, fmt::format("HTTP status {} (expected {}): '{}'", code, s.http_status, printable(line)),
                      now);
    return finish(t, true, fmt::format("HTTP status {}", code), now);
}

void HealthChecker::run() {
    using P = Target::Phase;
    std::vector<pollfd> fds;
    std::vector<std::pair<std::string, uint64_t>> who;  // fds[i + 1] belongs to this key and probe
    for (;;) {
        int wait_ms;
        {
            std::lock_guard lock(mu_);
            if (stop_) return;
            fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
            who.clear();
            auto now = Clock::now();
            auto until = now + std::chrono::seconds(60);
            for (auto& [key, t] : targets_) {
                if (!t->probed()) continue;
                if (t->phase == P::idle) {
                    until = std::min(until, t->next_due);
                    continue;
                }
                until = std::min(until, t->deadline);
                fds.push_back({t->fd.get(), short(t->phase == P::reading ? POLLIN : POLLOUT), 0});
                who.emplace_back(key, t->gen);
            }
            wait_ms = int(std::max<long long>(0, std::chrono::ceil<milliseconds>(until - now).count()));
        }

        int n = poll(fds.data(), fds.size(), wait_ms);
        if (n < 0 && errno != EINTR) {
            spdlog::error("lb health: poll: {}", errstr(errno));
            std::this_thread::sleep_for(milliseconds(100));
        }

        std::lock_guard lock(mu_);
        if (stop_) return;
        if (n > 0 && fds[0].revents) {
            uint64_t v;
            [[maybe_unused]] ssize_t r = read(wake_fd_.get(), &v, sizeof v);
        }
        auto now = Clock::now();
        for (size_t i = 1; n > 0 && i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            auto it = targets_.find(who[i - 1].first);
            if (it == targets_.end()) continue;
            Target& t = *it->second;
            if (t.gen != who[i - 1].second || t.phase == P::idle) continue;
            advance(t, fds[i].revents, now);
        }
        for (auto& [key, tp] : targets_) {
            Target& t = *tp;
            if (!t.probed()) continue;
            if (t.phase != P::idle && now >= t.deadline) {
                auto ms = t.t.spec.timeout.count();
                std::string what = t.phase == P::connecting ? fmt::format("connect: timed out after {} ms", ms)
                                   : t.t.spec.type == HealthCheckSpec::Type::udp
                                       ? fmt::format("no reply within {} ms", ms)
                                       : fmt::format("no HTTP status line within {} ms", ms);
                finish(t, false, std::move(what), now);
            }
            if (t.phase == P::idle && now >= t.next_due) start_probe(t, now);
        }
    }
}

}  // namespace xdpd::lb
