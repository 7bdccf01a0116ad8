// Observability end to end: the real daemon on srv0 serving metrics, checked
// by promtool and scraped by a real Prometheus server (with the shipped
// deploy/prometheus/prometheus.yml) whose computed rates must match the
// traffic sent; every metric the shipped dashboard uses is exported;
// `xdpd top --json`; data-plane events in `xdpd events`.
#include <arpa/inet.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "daemon_fixture.hpp"

namespace xdpd::test {
namespace {

constexpr const char* kConfig = R"(interfaces:
  - name: srv0
firewall:
  rules:
    - id: no-9999
      action: deny
      proto: udp
      dport: 9999
metrics:
  source_sample: 1
)";

class Observability : public Daemon {
protected:
    // `xdpd metrics` run inside the server namespace: the text the endpoint serves.
    std::string metrics_text() {
        auto r = net::exec(&lab_.server(), {"curl", "-sf", "http://127.0.0.1:9100/metrics"});
        EXPECT_TRUE(r.ok()) << r.err;
        return r.out;
    }
    // UDP datagrams from the client to the server's port 9999 (denied), paced
    // at `pps`; returns (sent, seconds it took).
    std::pair<int, double> send_paced(int pps, double seconds) {
        const int n = int(pps * seconds);
        const auto t0 = std::chrono::steady_clock::now();
        auto p = net::Process::fork(&lab_.client(), [n, pps] {
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            sockaddr_in to{};
            to.sin_family = AF_INET;
            to.sin_port = htons(9999);
            inet_pton(AF_INET, Lab::server_addr(4).c_str(), &to.sin_addr);
            const auto start = std::chrono::steady_clock::now();
            for (int i = 0; i < n; ++i) {
                std::this_thread::sleep_until(start + std::chrono::microseconds(int64_t(i) * 1000000 / pps));
                sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
            }
            return 0;
        }, "paced udp");
        EXPECT_EQ(p.wait(std::chrono::seconds(int(seconds) + 30)), 0);
        return {n, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    }
};

std::set<std::string> declared_families(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
    return out;
}

TEST_F(Observability, PromtoolAcceptsTheExpositionAndEveryDashboardMetricIsExported) {
    write_config(kConfig);
    start();
    ASSERT_TRUE(ping(4));
    send_paced(200, 0.5);
    const std::string text = metrics_text();
    // promtool, the reference linter of the format
    const std::string file = "/tmp/xdpd-metrics-" + lab_.prefix() + ".txt";
    std::ofstream(file) << text;
    auto lint = net::exec(nullptr, {"sh", "-c", "promtool check metrics < " + file});
    std::remove(file.c_str());
    EXPECT_TRUE(lint.ok()) << lint.out << lint.err;
    // the dashboard and alert rules only use what we export
    auto used = net::exec_checked(nullptr, {std::string(XDPD_SOURCE_DIR) + "/deploy/check.sh", "--list-metrics"});
    const auto families = declared_families(text);
    std::istringstream in(used.out);
    int n = 0;
    for (std::string m; std::getline(in, m);) {
        if (m.empty()) continue;
        ++n;
        EXPECT_TRUE(families.count(m)) << "the dashboard uses " << m << ", which xdpd does not export";
    }
    EXPECT_GT(n, 20);
    // the denied datagrams, exactly, by interface x action x reason
    EXPECT_NE(text.find("xdpd_verdict_packets_total{interface=\"srv0\",action=\"drop\",reason=\"fw_deny\"} 100\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("xdpd_rule_packets_total{rule=\"no-9999\",action=\"deny\"} 100\n"), std::string::npos);
    EXPECT_NE(text.find("xdpd_interface_info{interface=\"srv0\""), std::string::npos);
    // the API serves the same families
    auto api = daemon_->call({{"cmd", "metrics"}});
    EXPECT_EQ(declared_families(api["text"].get<std::string>()), families);
}

TEST_F(Observability, PrometheusServerScrapesAndItsRatesMatchTheTrafficSent) {
    write_config(kConfig);
    start();
    const std::string tsdb = "/tmp/xdpd-prom-" + lab_.prefix();
    std::filesystem::remove_all(tsdb);
    auto prom = net::Process::spawn(&lab_.server(), {"prometheus",
                                                     "--config.file=" + std::string(XDPD_SOURCE_DIR) +
                                                         "/deploy/prometheus/prometheus.yml",
                                                     "--storage.tsdb.path=" + tsdb,
                                                     "--web.listen-address=127.0.0.1:9090"});
    auto query = [&](const std::string& q) {
        auto r = net::exec(&lab_.server(), {"curl", "-sf", "-G", "http://127.0.0.1:9090/api/v1/query",
                                            "--data-urlencode", "query=" + q});
        if (!r.ok()) return nlohmann::json();
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_discarded() ? nlohmann::json() : j["data"]["result"];
    };
    // Up, and scraped at least once.
    bool up = false;
    for (int i = 0; i < 60 && !up; ++i) {
        auto r = query("up{job=\"xdpd\"}");
        up = r.is_array() && !r.empty() && r[0]["value"][1] == "1";
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    ASSERT_TRUE(up) << "Prometheus never scraped xdpd";
    // 200 datagrams/s for 25 s: five scrapes or more (every 5 s).
    const auto [sent, secs] = send_paced(200, 25);
    const double sent_rate = sent / secs;
    auto r = query("rate(xdpd_verdict_packets_total{interface=\"srv0\",action=\"drop\",reason=\"fw_deny\"}[15s] @ " +
                   std::to_string(double(time(nullptr)) - 5) + ")");
    ASSERT_TRUE(r.is_array() && r.size() == 1) << r.dump();
    const double prom_rate = std::stod(r[0]["value"][1].get<std::string>());
    EXPECT_NEAR(prom_rate, sent_rate, 0.2 * sent_rate) << "Prometheus computed " << prom_rate << "/s, we sent "
                                                       << sent_rate << "/s";
    // The per-rule counter and the drop action agree; the total is exact.
    std::this_thread::sleep_for(std::chrono::seconds(6));  // one more scrape after the last datagram
    auto total = query("xdpd_rule_packets_total{rule=\"no-9999\"}");
    ASSERT_TRUE(total.is_array() && total.size() == 1) << total.dump();
    EXPECT_EQ(std::stoll(total[0]["value"][1].get<std::string>()), sent);
    // While it sent, the heaviest source was the client (every packet sampled
    // here); top sources are the last second's, so ask for the whole window.
    auto top = query("max_over_time(xdpd_top_source_pps[40s])");
    ASSERT_TRUE(top.is_array() && !top.empty()) << top.dump();
    size_t heaviest = 0;  // (neighbour discovery and the like come from other sources)
    for (size_t k = 0; k < top.size(); ++k)
        if (std::stod(top[k]["value"][1].get<std::string>()) > std::stod(top[heaviest]["value"][1].get<std::string>()))
            heaviest = k;
    EXPECT_EQ(top[heaviest]["metric"]["source"], Lab::client_addr(4)) << top.dump();
    EXPECT_NEAR(std::stod(top[heaviest]["value"][1].get<std::string>()), sent_rate, 0.3 * sent_rate) << top.dump();
    prom.stop();
    std::filesystem::remove_all(tsdb);
}

TEST_F(Observability, TopJsonShowsRatesSourcesAndDropReasons) {
    write_config(kConfig);
    start();
    auto sender = std::thread([&] { send_paced(300, 4); });
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto r = net::exec(&lab_.server(), {XDPD_BINARY, "--socket", paths_.socket, "top", "--json"});
    sender.join();
    ASSERT_TRUE(r.ok()) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["interfaces"].size(), 1u);
    const auto& i = j["interfaces"][0];
    EXPECT_EQ(i["name"], "srv0");
    const double drop = i["actions"]["drop"]["pps"].get<double>();
    EXPECT_NEAR(drop, 300, 90) << r.out;
    EXPECT_NEAR(i["reasons"]["fw_deny"]["drop"].get<double>(), drop, 1e-6);
    ASSERT_FALSE(j["sources"].empty()) << r.out;
    EXPECT_EQ(j["sources"][0]["addr"], Lab::client_addr(4));
    EXPECT_NEAR(j["sources"][0]["dropped_pps"].get<double>(), 300, 90);
    EXPECT_EQ(j["bans"]["count"], 0);
    EXPECT_TRUE(j["attacks"].empty());
    // the text view renders once and exits
    auto t = net::exec(&lab_.server(), {XDPD_BINARY, "--socket", paths_.socket, "top", "-c", "1"});
    ASSERT_TRUE(t.ok()) << t.exit_code << " " << t.out << t.err;
    EXPECT_NE(t.out.find("DROPS BY REASON"), std::string::npos);
}

// The live view in a real terminal (a pty, as over SSH): it clears and redraws
// each second, takes the keyboard (no echo) while it runs, and `q` quits at
// once with the cursor and the terminal's settings given back.
TEST_F(Observability, TopRunsInATerminalAndQuitsOnQ) {
    write_config(kConfig);
    start();
    int master = -1;
    winsize ws{40, 120, 0, 0};
    const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    ASSERT_GE(pid, 0) << "forkpty: " << std::strerror(errno);
    if (pid == 0) {
        execl(XDPD_BINARY, XDPD_BINARY, "--socket", paths_.socket.c_str(), "top", nullptr);
        _exit(127);
    }
    std::string out;
    auto read_until = [&](const std::string& what, std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        size_t from = out.size();
        while (std::chrono::steady_clock::now() < until) {
            if (out.find(what, from) != std::string::npos) return true;
            pollfd p{master, POLLIN, 0};
            if (poll(&p, 1, 50) > 0) {
                char buf[4096];
                const ssize_t n = read(master, buf, sizeof buf);
                if (n <= 0) break;  // the child is gone
                out.append(buf, size_t(n));
            }
        }
        return out.find(what, from) != std::string::npos;
    };
    EXPECT_TRUE(read_until("DROPS BY REASON", 5s)) << out;
    EXPECT_NE(out.find("\033[?25l"), std::string::npos) << "cursor hidden";
    EXPECT_TRUE(read_until("\033[H\033[2J", 3s)) << "the screen is redrawn";
    EXPECT_TRUE(read_until("DROPS BY REASON", 3s)) << out;
    termios t{};
    ASSERT_EQ(tcgetattr(master, &t), 0);
    EXPECT_FALSE(t.c_lflag & ECHO) << "keys are not echoed while top runs";
    EXPECT_FALSE(t.c_lflag & ICANON);

    const auto pressed = std::chrono::steady_clock::now();
    ASSERT_EQ(write(master, "q", 1), 1);
    int status = -1;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
        read_until("\033[?25h", 20ms);
    }
    if (!WIFEXITED(status)) kill(pid, SIGKILL), waitpid(pid, &status, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - pressed, 1500ms) << "q quits within the refresh interval";
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    read_until("\033[?25h", 200ms);
    EXPECT_NE(out.rfind("\033[?25h"), std::string::npos) << "cursor shown again";
    ASSERT_EQ(tcgetattr(master, &t), 0);
    EXPECT_TRUE(t.c_lflag & ECHO) << "the terminal's settings are restored";
    EXPECT_TRUE(t.c_lflag & ICANON);
    close(master);
}

TEST_F(Observability, DataPlaneEventsReachTheLogOncePerSourceAndWindow) {
    write_config(std::string(kConfig) + "events:\n  reasons: [fw_deny, banned]\n");
    start();
    send_paced(100, 1);  // 100 denied datagrams from one source
    auto ban = daemon_->call({{"cmd", "ban"}, {"op", "add"}, {"prefix", Lab::client_addr(4)}});
    ASSERT_TRUE(ping(4) == false);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto events = daemon_->call({{"cmd", "events"}});
    int denied = 0, banned = 0;
    for (const auto& e : events) {
        if (e["type"] == "packet_fw_deny") {
            ++denied;
            EXPECT_EQ(e["src"], Lab::client_addr(4));
            EXPECT_EQ(e["dport"], 9999);
            EXPECT_EQ(e["verdict"], "drop");
            EXPECT_EQ(e["interface"], "srv0");
        }
        if (e["type"] == "packet_banned") ++banned;
    }
    EXPECT_EQ(denied, 1) << events.dump(1);  // the other 99 held back
    EXPECT_EQ(banned, 1) << events.dump(1);
    // the status says what is watched
    auto st = daemon_->call({{"cmd", "status"}});
    EXPECT_EQ(st["observe"]["events"]["reasons"], nlohmann::json::array({"fw_deny", "banned"}));
    EXPECT_EQ(st["metrics"]["listen"], ":9100");
    EXPECT_TRUE(st["metrics"]["serving"].get<bool>());
}

TEST_F(Observability, ABadMetricsAddressIsRejectedWithItsPosition) {
    write_config(std::string(kConfig) + "  listen: \"127.0.0.1:99999\"\n");
    auto r = net::exec(nullptr, {XDPD_BINARY, "check", "-c", paths_.config});
    EXPECT_FALSE(r.ok());
    EXPECT_NE((r.out + r.err).find(":11:11:"), std::string::npos) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("not a port"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace xdpd::test
