// Health checks of the load balancer's backends (lb::HealthChecker) against
// real servers in a namespace of their own: TCP, HTTP and UDP probes over IPv4
// and IPv6 loopback, the UP/DOWN state machine, set_targets() semantics and
// the event fd. Short intervals; every wait has a generous deadline and the
// assertions are on outcomes (states, changes, counters), never on speed.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "lb/health.hpp"
#include "net/netns.hpp"
#include "net/server_process.hpp"
#include "net/socket_addr.hpp"
#include "net/tcp.hpp"
#include "net/udp.hpp"
#include "util/error.hpp"

namespace xdpd::lb {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Type = HealthCheckSpec::Type;

constexpr auto kDeadline = 10s;  // for anything that should take well under a second
constexpr uint16_t kClosedPort = 9;  // nothing listens in a fresh namespace

HealthCheckSpec fast(Type type) {
    HealthCheckSpec s;
    s.type = type;
    s.interval = 100ms;
    s.timeout = 1000ms;  // only waited for when nothing answers; a refusal fails at once
    s.rise = 2;
    s.fall = 3;
    return s;
}

HealthTarget target(const std::string& addr, uint16_t port, HealthCheckSpec spec, std::string name = "web") {
    std::string key = fmt::format("{}/{}", name, addr.find(':') != std::string::npos
                                                     ? fmt::format("[{}]:{}", addr, port)
                                                     : fmt::format("{}:{}", addr, port));
    return HealthTarget{key, addr, port, std::move(spec)};
}

// An int in a MAP_SHARED page: the test sets it, a forked server reads it.
class SharedInt {
public:
    explicit SharedInt(int v) {
        void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw SysError("mmap", errno);
        p_ = static_cast<int*>(p);
        set(v);
    }
    ~SharedInt() { munmap(p_, 4096); }
    SharedInt(const SharedInt&) = delete;
    SharedInt& operator=(const SharedInt&) = delete;
    void set(int v) const { __atomic_store_n(p_, v, __ATOMIC_SEQ_CST); }
    int get() const { return __atomic_load_n(p_, __ATOMIC_SEQ_CST); }

private:
    int* p_;
};

// A tiny HTTP/1.0 server forked into ns. It answers `status` to the request
// the checker must send (GET /healthz, Host addr:port, User-Agent
// xdpd-health) and 400 to anything else. silent: accepts and never answers.
net::RunningServer http_server(const net::Netns& ns, const SharedInt* status, bool silent = false) {
    auto label = silent ? "silent http server" : "http server";
    return net::start_server(ns, label, [status, silent](const net::ReadyFn& ready) -> int {
        uint16_t port = 0;
        UniqueFd lfd = net::bind_any(SOCK_STREAM, 0, port);
        if (listen(lfd.get(), 64) != 0) throw SysError("listen", errno);
        ready(port);
        std::vector<UniqueFd> held;
        for (;;) {
            UniqueFd c(accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            if (silent) {
                held.push_back(std::move(c));
                continue;
            }
            std::string req;
            char buf[2048];
            while (req.find("\r\n\r\n") == std::string::npos) {
                pollfd pfd{c.get(), POLLIN, 0};
                if (poll(&pfd, 1, 1000) <= 0) break;
                ssize_t r = recv(c.get(), buf, sizeof buf, 0);
                if (r <= 0) break;
                req.append(buf, size_t(r));
            }
            bool valid = req.starts_with("GET /healthz HTTP/1.0\r\n") &&
                         req.find("\r\nUser-Agent: xdpd-health\r\n") != std::string::npos &&
                         req.find("\r\nConnection: close\r\n") != std::string::npos &&
                         (req.find(fmt::format("\r\nHost: 127.0.0.1:{}\r\n", port)) != std::string::npos ||
                          req.find(fmt::format("\r\nHost: [::1]:{}\r\n", port)) != std::string::npos);
            int code = valid ? status->get() : 400;
            std::string resp = fmt::format("HTTP/1.0 {} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code,
                                           code == 200 ? "OK" : "Not OK");
            [[maybe_unused]] ssize_t w = send(c.get(), resp.data(), resp.size(), MSG_NOSIGNAL);
        }
    });
}

class Health : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "the test suite runs as root (network namespaces)";
        ns_.emplace(net::Netns::create(net::unique_prefix("xh") + "-hc"));
        checker_.emplace(ns_->name());
    }
    void TearDown() override {
        if (HasFailure() && checker_) std::fprintf(stderr, "health status: %s\n", checker_->status().dump(2).c_str());
        checker_.reset();  // before the servers and the namespace
    }

    const net::Netns& ns() const { return *ns_; }
    HealthChecker& hc() { return *checker_; }

    // Drains until at least n changes arrived (or the deadline passed); returns all.
    std::vector<HealthChange> wait_changes(size_t n, std::chrono::milliseconds deadline = kDeadline) {
        std::vector<HealthChange> all;
        auto until = Clock::now() + deadline;
        while (all.size() < n) {
            for (auto& c : hc().drain()) all.push_back(std::move(c));
            if (all.size() >= n || Clock::now() >= until) break;
            pollfd pfd{hc().event_fd(), POLLIN, 0};
            poll(&pfd, 1, net::ms_left(until));
        }
        return all;
    }

    // The status entry of key (null if absent).
    nlohmann::json entry(const std::string& key) {
        for (auto& e : hc().status())
            if (e["key"] == key) return e;
        return nullptr;
    }
    uint64_t checks(const std::string& key) {
        auto e = entry(key);
        return e.is_null() ? 0 : e["checks"].get<uint64_t>();
    }
    // Waits until pred() holds; false if it never did.
    static bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline = kDeadline) {
        auto until = Clock::now() + deadline;
        while (!pred()) {
            if (Clock::now() >= until) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
    // Waits until key's last n probes succeeded.
    bool wait_ok(const std::string& key, uint64_t n) {
        return wait_until([&] {
            auto e = entry(key);
            return !e.is_null() && e["consecutive_ok"].get<uint64_t>() >= n;
        });
    }
    // Waits until key had at least n more probes than now.
    bool wait_checks(const std::string& key, uint64_t n) {
        uint64_t base = checks(key);
        return wait_until([&] { return checks(key) >= base + n; });
    }

    std::optional<net::Netns> ns_;
    std::optional<HealthChecker> checker_;
};

std::string describe(const std::vector<HealthChange>& cs) {
    std::string s;
    for (const auto& c : cs) s += fmt::format("\n  {} {} ({})", c.key, c.up ? "UP" : "DOWN", c.why);
    return s.empty() ? " none" : s;
}

TEST_F(Health, TcpUpStaysUpDownWhenRefusedUpAgainAfterRestart) {
    std::optional<net::TcpServer> server;
    server.emplace(ns(), 0);
    const uint16_t port = server->port();
    auto t = target("127.0.0.1", port, fast(Type::tcp));
    hc().set_targets({t});
    EXPECT_TRUE(hc().is_up(t.key)) << "a new target starts up";

    ASSERT_TRUE(wait_ok(t.key, 5));
    auto e = entry(t.key);
    EXPECT_EQ(e["state"], "up");
    EXPECT_EQ(e["type"], "tcp");
    EXPECT_FALSE(e["last_latency_ms"].is_null());
    auto none = hc().drain();
    EXPECT_TRUE(none.empty()) << describe(none);

    server.reset();  // killed: connections are refused
    auto down = wait_changes(1);
    ASSERT_EQ(down.size(), 1u) << describe(down);
    EXPECT_EQ(down[0].key, t.key);
    EXPECT_FALSE(down[0].up);
    EXPECT_NE(down[0].why.find("3 consecutive failures"), std::string::npos) << down[0].why;
    EXPECT_NE(down[0].why.find("refused"), std::string::npos) << down[0].why;
    EXPECT_FALSE(hc().is_up(t.key));
    e = entry(t.key);
    EXPECT_EQ(e["state"], "down");
    EXPECT_GE(e["failures"].get<uint64_t>(), 3u);
    EXPECT_NE(e["last_error"].get<std::string>().find("refused"), std::string::npos) << e.dump();

    // Still down: more failures, no more changes.
    ASSERT_TRUE(wait_checks(t.key, 3));
    EXPECT_FALSE(hc().is_up(t.key));

    server.emplace(ns(), port);
    auto up = wait_changes(1);
    ASSERT_EQ(up.size(), 1u) << describe(up);
    EXPECT_EQ(up[0].key, t.key);
    EXPECT_TRUE(up[0].up);
    EXPECT_NE(up[0].why.find("2 consecutive successes"), std::string::npos) << up[0].why;
    EXPECT_TRUE(hc().is_up(t.key));
    // The kernel completes the handshake from the backlog; the server counts
    // when it gets around to accept().
    EXPECT_TRUE(wait_until([&] { return server->accepted() >= 2; })) << server->accepted();

    ASSERT_TRUE(wait_checks(t.key, 3));
    auto after = hc().drain();
    EXPECT_TRUE(after.empty()) << "no flapping:" << describe(after);
}

TEST_F(Health, HttpStatusDecidesUpAndDown) {
    SharedInt status(200);
    auto server = http_server(ns(), &status);
    auto spec = fast(Type::http);
    spec.http_path = "/healthz";
    auto t = target("127.0.0.1", server.port, spec);
    hc().set_targets({t});

    ASSERT_TRUE(wait_ok(t.key, 3)) << "the server checks path, Host and User-Agent";
    EXPECT_TRUE(hc().is_up(t.key));
    auto none = hc().drain();
    EXPECT_TRUE(none.empty()) << describe(none);

    status.set(503);
    auto down = wait_changes(1);
    ASSERT_EQ(down.size(), 1u) << describe(down);
    EXPECT_FALSE(down[0].up);
    EXPECT_NE(down[0].why.find("HTTP status 503 (expected 200)"), std::string::npos) << down[0].why;
    EXPECT_FALSE(hc().is_up(t.key));

    status.set(200);
    auto up = wait_changes(1);
    ASSERT_EQ(up.size(), 1u) << describe(up);
    EXPECT_TRUE(up[0].up);
    EXPECT_NE(up[0].why.find("HTTP status 200"), std::string::npos) << up[0].why;
    EXPECT_TRUE(hc().is_up(t.key));
}

TEST_F(Health, HttpSilentServerDownByTimeoutAndClosingServerDown) {
    auto silent = http_server(ns(), nullptr, true);
    net::TcpServer closing(ns(), 0, net::TcpServer::Mode::close);
    auto silent_spec = fast(Type::http);
    silent_spec.timeout = 200ms;
    auto a = target("127.0.0.1", silent.port, silent_spec, "silent");
    auto b = target("127.0.0.1", closing.port(), fast(Type::http), "closing");
    hc().set_targets({a, b});

    auto down = wait_changes(2);
    ASSERT_EQ(down.size(), 2u) << describe(down);
    for (const auto& c : down) {
        EXPECT_FALSE(c.up);
        if (c.key == a.key)
            EXPECT_NE(c.why.find("no HTTP status line within 200 ms"), std::string::npos) << c.why;
        else if (c.key == b.key)  // FIN, or RST when the server closed with our request unread
            EXPECT_TRUE(c.why.find("connection closed before any answer") != std::string::npos ||
                        c.why.find("recv: Connection reset by peer") != std::string::npos)
                << c.why;
        else
            ADD_FAILURE() << "unexpected key " << c.key;
    }
    EXPECT_NE(down[0].key, down[1].key);
    EXPECT_FALSE(hc().is_up(a.key));
    EXPECT_FALSE(hc().is_up(b.key));
}

TEST_F(Health, UdpEchoUpUnreachableDownExpectMismatchDown) {
    net::UdpEchoServer echo(ns(), 0);
    auto ok_spec = fast(Type::udp);
    ok_spec.udp_expect = "xdpd-health";
    auto ok = target("127.0.0.1", echo.port(), ok_spec, "echo");
    auto closed = target("127.0.0.1", kClosedPort, fast(Type::udp), "closed");
    auto wrong_spec = fast(Type::udp);
    wrong_spec.udp_expect = "pong";
    auto wrong = target("127.0.0.1", echo.port(), wrong_spec, "wrong");
    hc().set_targets({ok, closed, wrong});

    auto down = wait_changes(2);
    ASSERT_EQ(down.size(), 2u) << describe(down);
    for (const auto& c : down) {
        EXPECT_FALSE(c.up);
        if (c.key == closed.key)
            EXPECT_NE(c.why.find("refused"), std::string::npos) << c.why;
        else if (c.key == wrong.key)
            EXPECT_NE(c.why.find("reply 'xdpd-health' does not contain 'pong'"), std::string::npos) << c.why;
        else
            ADD_FAILURE() << "unexpected change " << c.key << ": " << c.why;
    }
    EXPECT_NE(down[0].key, down[1].key);

    ASSERT_TRUE(wait_ok(ok.key, 3));
    EXPECT_TRUE(hc().is_up(ok.key));
    EXPECT_GE(echo.received(), 3u);
    auto more = hc().drain();
    EXPECT_TRUE(more.empty()) << describe(more);
}

TEST_F(Health, Ipv6LoopbackTcpHttpUdp) {
    SharedInt status(200);
    auto web = http_server(ns(), &status);
    net::TcpServer tcp(ns(), 0);
    net::UdpEchoServer echo(ns(), 0);
    auto http_spec = fast(Type::http);
    http_spec.http_path = "/healthz";
    std::vector<HealthTarget> ts{
        target("::1", tcp.port(), fast(Type::tcp), "tcp"),
        target("::1", web.port, http_spec, "http"),
        target("::1", echo.port(), fast(Type::udp), "udp"),
        target("::1", kClosedPort, fast(Type::tcp), "tcp-closed"),
        target("::1", kClosedPort, fast(Type::udp), "udp-closed"),
    };
    hc().set_targets(ts);

    auto down = wait_changes(2);
    ASSERT_EQ(down.size(), 2u) << describe(down);
    for (const auto& c : down) {
        EXPECT_FALSE(c.up);
        EXPECT_TRUE(c.key == ts[3].key || c.key == ts[4].key) << c.key;
        EXPECT_NE(c.why.find("refused"), std::string::npos) << c.why;
    }
    for (size_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(wait_ok(ts[i].key, 3)) << ts[i].key;
        EXPECT_TRUE(hc().is_up(ts[i].key)) << ts[i].key;
    }
    auto more = hc().drain();
    EXPECT_TRUE(more.empty()) << describe(more);
}

TEST_F(Health, SetTargetsKeepsUnchangedResetsChangedForgetsRemoved) {
    net::TcpServer server(ns(), 0);
    auto a = target("127.0.0.1", kClosedPort, fast(Type::tcp), "a");        // goes down
    auto b = target("127.0.0.1", kClosedPort, HealthCheckSpec{}, "b");      // type none: never probed
    auto c = target("127.0.0.1", server.port(), fast(Type::tcp), "c");      // up
    hc().set_targets({a, b});
    auto down = wait_changes(1);
    ASSERT_EQ(down.size(), 1u) << describe(down);
    EXPECT_EQ(down[0].key, a.key);
    EXPECT_FALSE(down[0].up);

    // Unchanged a stays down and keeps its counters; c is new and up.
    uint64_t a_failures = entry(a.key)["failures"].get<uint64_t>();
    hc().set_targets({a, b, c});
    EXPECT_FALSE(hc().is_up(a.key));
    EXPECT_TRUE(hc().is_up(c.key));
    EXPECT_GE(entry(a.key)["failures"].get<uint64_t>(), a_failures);
    ASSERT_TRUE(wait_checks(a.key, 3));
    ASSERT_TRUE(wait_ok(c.key, 3));
    EXPECT_FALSE(hc().is_up(a.key));
    EXPECT_TRUE(hc().is_up(c.key));
    auto none = hc().drain();
    EXPECT_TRUE(none.empty()) << describe(none);

    // Type none: always up, never probed.
    auto eb = entry(b.key);
    EXPECT_EQ(eb["state"], "up");
    EXPECT_EQ(eb["type"], "none");
    EXPECT_EQ(eb["checks"], 0u);
    EXPECT_TRUE(eb["last_latency_ms"].is_null());

    // A changed spec resets a: up at once, counters from zero, and an UP
    // change because the daemon saw it down; then down again on its own.
    auto a2 = a;
    a2.spec.fall = 2;
    hc().set_targets({a2, b, c});
    EXPECT_TRUE(hc().is_up(a.key));
    auto reset = hc().drain();
    ASSERT_EQ(reset.size(), 1u) << describe(reset);
    EXPECT_EQ(reset[0].key, a.key);
    EXPECT_TRUE(reset[0].up);
    EXPECT_NE(reset[0].why.find("health check changed"), std::string::npos) << reset[0].why;
    EXPECT_LT(entry(a.key)["failures"].get<uint64_t>(), a_failures);
    ASSERT_TRUE(wait_until([&] { return !hc().is_up(a.key); }));  // not drained: the DOWN stays queued

    // Another reset while that DOWN is queued: the stale DOWN is dropped, only
    // the UP of the reset remains.
    auto a3 = a2;
    a3.spec.interval = 150ms;
    hc().set_targets({a3, b, c});
    EXPECT_TRUE(hc().is_up(a.key));
    reset = hc().drain();
    ASSERT_EQ(reset.size(), 1u) << describe(reset);
    EXPECT_TRUE(reset[0].up);

    // Removed targets are forgotten, and their queued changes with them.
    ASSERT_TRUE(wait_until([&] { return !hc().is_up(a.key); }));
    hc().set_targets({c});
    EXPECT_FALSE(hc().is_up(a.key)) << "unknown keys are not up";
    EXPECT_FALSE(hc().is_up(b.key));
    EXPECT_TRUE(entry(a.key).is_null());
    EXPECT_TRUE(entry(b.key).is_null());
    EXPECT_EQ(hc().status().size(), 1u);
    auto gone = hc().drain();
    EXPECT_TRUE(gone.empty()) << describe(gone);
    pollfd pfd{hc().event_fd(), POLLIN, 0};
    EXPECT_EQ(poll(&pfd, 1, 0), 0) << "event fd readable with nothing queued";
    ASSERT_TRUE(wait_checks(c.key, 2));
    EXPECT_TRUE(hc().is_up(c.key));
}

TEST_F(Health, EventFdReadableWhileChangesQueued) {
    pollfd pfd{hc().event_fd(), POLLIN, 0};
    EXPECT_EQ(poll(&pfd, 1, 0), 0);
    hc().set_targets({target("127.0.0.1", kClosedPort, fast(Type::tcp))});
    pfd.revents = 0;
    ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "no change queued";
    EXPECT_TRUE(pfd.revents & POLLIN);
    EXPECT_EQ(poll(&pfd, 1, 0), 1) << "stays readable until drained";
    auto cs = hc().drain();
    ASSERT_EQ(cs.size(), 1u) << describe(cs);
    EXPECT_FALSE(cs[0].up);
    pfd.revents = 0;
    EXPECT_EQ(poll(&pfd, 1, 0), 0) << "drain() resets it";
}

TEST_F(Health, InvalidTargetsAreRefusedAndChangeNothing) {
    net::TcpServer server(ns(), 0);
    auto good = target("127.0.0.1", server.port(), fast(Type::tcp));
    hc().set_targets({good});
    auto bad_addr = target("web.example", 80, fast(Type::tcp), "name");
    EXPECT_THROW(hc().set_targets({bad_addr}), std::invalid_argument);
    EXPECT_THROW(hc().set_targets({good, good}), std::invalid_argument);
    auto no_port = target("127.0.0.1", 0, fast(Type::udp), "noport");
    EXPECT_THROW(hc().set_targets({no_port}), std::invalid_argument);
    auto zero_fall = good;
    zero_fall.spec.fall = 0;
    EXPECT_THROW(hc().set_targets({zero_fall}), std::invalid_argument);
    auto crlf = target("127.0.0.1", 80, fast(Type::http), "crlf");
    crlf.spec.http_path = "/\r\nX-Evil: 1";
    EXPECT_THROW(hc().set_targets({crlf}), std::invalid_argument);
    ASSERT_EQ(hc().status().size(), 1u);
    EXPECT_EQ(hc().status()[0]["key"], good.key);
    ASSERT_TRUE(wait_checks(good.key, 2));
    EXPECT_TRUE(hc().is_up(good.key));

    EXPECT_THROW(HealthChecker("xdpd-no-such-netns"), SysError);
}

}  // namespace
}  // namespace xdpd::lb
