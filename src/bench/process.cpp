#include "bench/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace xdpd::bench {

std::string join(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
    return s;
}

std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find(':', i);
        if (j == std::string::npos) j = path.size();
        std::string dir = path.substr(i, j - i);
        if (!dir.empty()) {
            std::string p = dir + "/" + name;
            if (access(p.c_str(), X_OK) == 0) return p;
        }
        i = j + 1;
    }
    return "";
}

CommandResult run_command(const std::vector<std::string>& argv) {
    CommandResult r;
    std::string exe = argv.empty() ? "" : find_program(argv[0]);
    if (exe.empty()) {
        r.output = (argv.empty() ? std::string("(empty command)") : argv[0]) + ": not found";
        return r;
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC)) {
        r.output = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    // Own process group: a Ctrl-C at the terminal reaches only us, and we let
    // the tool finish (xdp-filter killed half-way leaves a stale lock file and
    // half-loaded state) before unwinding and cleaning up.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    if (rc) {
        close(pipefd[0]);
        r.output = exe + ": " + std::strerror(rc);
        return r;
    }
    char buf[4096];
    for (;;) {
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n > 0) {
            r.output.append(buf, size_t(n));
        } else if (n < 0 && errno == EINTR) {
            continue;  // a signal for us; keep reading until the child is done
        } else {
            break;
        }
    }
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == ' '))
        r.output.pop_back();
    return r;
}

}  // namespace xdpd::bench
