#include "mitigation/events.hpp"

#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <vector>

#include "util/error.hpp"

extern char** environ;

namespace xdpd::mitigation {
namespace {

std::string iso_time(double t) {
    time_t s = time_t(t);
    tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

const nlohmann::json& EventLog::add(const std::string& type, const std::string& watch, nlohmann::json detail) {
    const double t = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::json e = {{"seq", ++seq_}, {"time", t}, {"time_iso", iso_time(t)}, {"type", type}, {"watch", watch}};
    for (auto& [k, v] : detail.items()) e[k] = v;
    const bool loud = type == "attack_start" || type == "ban";
    spdlog::log(loud ? spdlog::level::warn : spdlog::level::info, "event {}", e.dump());
    ++counts_[{type, watch}];
    events_.push_back(std::move(e));
    if (events_.size() > kMaxEvents) events_.pop_front();
    write(events_.back());
    return events_.back();
}

EventLog::~EventLog() {
    if (fd_ >= 0) close(fd_);
}

size_t EventLog::persist(const std::string& path) {
    std::deque<nlohmann::json> restored;
    size_t lines = 0, bad = 0;
    {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            ++lines;
            auto e = nlohmann::json::parse(line, nullptr, false);
            if (e.is_discarded() || !e.is_object() || !e.contains("seq") || !e["seq"].is_number_unsigned()) {
                ++bad;
                continue;
            }
            restored.push_back(std::move(e));
            if (restored.size() > kMaxEvents) restored.pop_front();
        }
    }
    if (bad) spdlog::warn("event log {}: skipped {} line(s) that are not events (a crash mid-write?)", path, bad);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) throw SysError("open event log " + path, errno);
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    path_ = path;
    file_lines_ = lines;
    // The restored events go first; any added before this call follow with new numbers.
    std::deque<nlohmann::json> mine = std::move(events_);
    events_ = std::move(restored);
    seq_ = events_.empty() ? 0 : events_.back()["seq"].get<uint64_t>();
    const size_t n = events_.size();
    for (auto& e : mine) {
        e["seq"] = ++seq_;
        events_.push_back(std::move(e));
        while (events_.size() > kMaxEvents) events_.pop_front();
        write(events_.back());
    }
    if (file_lines_ > 2 * kMaxEvents || bad) compact();
    return n;
}

void EventLog::write(const nlohmann::json& e) {
    if (fd_ < 0) return;
    const std::string line = e.dump() + "\n";
    // One write() of a whole line with O_APPEND: a crash leaves at most one cut line.
    if (::write(fd_, line.data(), line.size()) != ssize_t(line.size())) {
        spdlog::warn("event log {}: write failed ({}); events are kept in memory only from now on. "
                     "Check the file system, then restart the daemon",
                     path_, std::strerror(errno));
        close(fd_);
        fd_ = -1;
        return;
    }
    if (++file_lines_ > 2 * kMaxEvents) compact();
}

void EventLog::compact() {
    // Rewrite with the events in memory (the last kMaxEvents): a new file, renamed over.
    const std::string tmp = path_ + ".new";
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (const auto& e : events_) out << e.dump() << '\n';
        if (!out.flush()) {
            spdlog::warn("event log {}: could not rewrite it ({}); it keeps growing", path_, tmp);
            return;
        }
    }
    if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
        spdlog::warn("event log {}: could not replace it: {}", path_, std::strerror(errno));
        return;
    }
    const int fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        close(fd_);
        fd_ = fd;
    }
    file_lines_ = events_.size();
}

nlohmann::json EventLog::since(uint64_t after) const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : events_)
        if (e["seq"].get<uint64_t>() > after) out.push_back(e);
    return out;
}

HookRunner::~HookRunner() {
    // The daemon is going: leave running hooks alone, but do not leave zombies
    // behind if they are already done.
    for (const auto& [pid, c] : children_) waitpid(pid, nullptr, WNOHANG);
}

void HookRunner::run(const std::string& command, const nlohmann::json& event, double now) {
    const std::string type = event.value("type", ""), watch = event.value("watch", "");
    std::string prefixes;
    for (const auto& p : event.value("prefixes", nlohmann::json::array()))
        prefixes += (prefixes.empty() ? "" : " ") + p.get<std::string>();
    std::vector<std::string> env_s = {"XDPD_EVENT=" + type, "XDPD_WATCH=" + watch, "XDPD_PREFIXES=" + prefixes,
                                      "XDPD_EVENT_JSON=" + event.dump()};
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "XDPD_", 5) != 0) env_s.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", c = "-c", cmd = command, arg0 = "xdpd-hook", a1 = type, a2 = watch;
    char* argv[] = {sh.data(), c.data(), cmd.data(), arg0.data(), a1.data(), a2.data(), nullptr};

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // the daemon blocks signals for its signalfd
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, envp.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        spdlog::error("mitigation hook for {} of watch {} could not start: {}", type, watch, std::strerror(rc));
        return;
    }
    spdlog::info("mitigation hook started for {} of watch {} (pid {}): {}", type, watch, pid, command);
    children_[pid] = {type + " of watch " + watch, now};
}

void HookRunner::reap(double now) {
    for (auto it = children_.begin(); it != children_.end();) {
        int status = 0;
        pid_t r = waitpid(it->first, &status, WNOHANG);
        if (r == it->first) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                spdlog::info("mitigation hook for {} finished", it->second.what);
            else if (WIFEXITED(status))
                spdlog::error("mitigation hook for {} failed with exit status {}", it->second.what,
                              WEXITSTATUS(status));
            else
                spdlog::error("mitigation hook for {} was killed by signal {}", it->second.what,
                              WTERMSIG(status));
            it = children_.erase(it);
            continue;
        }
        if (r < 0) {  // not our child any more
            it = children_.erase(it);
            continue;
        }
        if (now - it->second.started > kTimeout) {
            spdlog::error("mitigation hook for {} still running after {:.0f} s: killing it", it->second.what, kTimeout);
            kill(it->first, SIGKILL);
        }
        ++it;
    }
}

}  // namespace xdpd::mitigation
