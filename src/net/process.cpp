#include "net/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/netns.hpp"
#include "util/error.hpp"

namespace xdpd::net {
namespace {

using Clock = std::chrono::steady_clock;

// What a child reports on its error pipe when it could not get going.
struct ChildFailure {
    int stage;  // kStageSetns or kStageExec
    int err;
};
constexpr int kStageSetns = 1;
constexpr int kStageExec = 2;

int pidfd_open(pid_t pid) { return int(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return int(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

UniqueFd memfd(const char* name) {
    UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
    if (!fd) throw SysError(fmt::format("memfd_create {}", name), errno);
    return fd;
}

std::string read_all(int fd) {
    std::string s;
    if (fd < 0) return s;
    char buf[8192];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        s.append(buf, size_t(n));
        off += n;
    }
    return s;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// --- in the child: async-signal-safe calls only until fn()/exec ------------

[[noreturn]] void child_fail(int pipe_fd, int stage) {
    ChildFailure f{stage, errno};
    [[maybe_unused]] ssize_t n = write(pipe_fd, &f, sizeof f);
    _exit(stage == kStageExec ? 127 : 126);
}

// Common child setup: die with the parent, default signals, the namespace,
// stdio. Returns normally only on success.
void child_setup(pid_t parent, int ns_fd, int out_fd, int err_fd, int pipe_fd, bool own_group = false) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent died before prctl
    if (own_group) setpgid(0, 0);  // a terminal's Ctrl-C reaches the parent only

    // A daemon parent may block or ignore signals (signalfd, SIGPIPE); the
    // child starts from defaults so SIGTERM works on it.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }

    if (ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) != 0) child_fail(pipe_fd, kStageSetns);

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        if (devnull != STDIN_FILENO) close(devnull);
    }
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
}

}  // namespace

// --- CommandError -------------------------------------------------------------

static std::string command_error_text(const CmdResult& r) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (r.timed_out) return fmt::format("`{}` timed out{}{}", r.command, err.empty() ? "" : ": ", err);
    return fmt::format("`{}` failed (exit {}){}{}", r.command, r.exit_code, err.empty() ? "" : ": ", err);
}

CommandError::CommandError(CmdResult r) : std::runtime_error(command_error_text(r)), result_(std::move(r)) {}

std::string describe_command(const Netns* ns, const std::vector<std::string>& argv) {
    std::string s = ns ? fmt::format("[netns {}] ", ns->name()) : std::string();
    for (size_t i = 0; i < argv.size(); ++i) {
        if (i) s += ' ';
        s += argv[i];
    }
    return s;
}

// --- Process --------------------------------------------------------------------

namespace {

// Everything a child needs, prepared in the parent so that the child does not
// allocate before exec.
struct Launch {
    UniqueFd ns_fd;
    UniqueFd out, err;
    UniqueFd pipe_r, pipe_w;
};

Launch prepare(const Netns* ns, Output output) {
    Launch l;
    if (ns) l.ns_fd = ns->open_fd();
    if (output == Output::capture) {
        l.out = memfd("xdpd-net-stdout");
        l.err = memfd("xdpd-net-stderr");
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw SysError("pipe2", errno);
    l.pipe_r.reset(p[0]);
    l.pipe_w.reset(p[1]);
    return l;
}

// Parent side after fork: reads the child's failure report (EOF = it got to
// exec or to fn), throws if it failed.
void check_child_started(pid_t pid, Launch& l, const std::string& label, const Netns* ns) {
    l.pipe_w.reset();
    ChildFailure f{};
    ssize_t n;
    do n = read(l.pipe_r.get(), &f, sizeof f);
    while (n < 0 && errno == EINTR);
    if (n != ssize_t(sizeof f)) return;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (f.stage == kStageSetns)
        throw SysError(fmt::format("setns into netns {} for `{}`", ns ? ns->name() : "?", label), f.err);
    throw SysError(fmt::format("exec `{}`", label), f.err);
}

}  // namespace

Process Process::adopt(pid_t pid, std::string label, UniqueFd out, UniqueFd err) {
    Process p;
    p.pid_ = pid;
    p.label_ = std::move(label);
    p.out_ = std::move(out);
    p.err_ = std::move(err);
    p.pidfd_.reset(pidfd_open(pid));
    if (!p.pidfd_) throw SysError(fmt::format("pidfd_open for {}", p.label_), errno);
    spdlog::debug("net: started pid {}: {}", pid, p.label_);
    return p;
}

Process Process::spawn(const Netns* ns, std::vector<std::string> argv, Output output) {
    return spawn_impl(ns, std::move(argv), output, false);
}

Process Process::spawn_impl(const Netns* ns, std::vector<std::string> argv, Output output, bool own_group) {
    if (argv.empty()) throw std::invalid_argument("Process::spawn: empty argv");
    std::string label = describe_command(ns, argv);
    Launch l = prepare(ns, output);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    std::fflush(nullptr);
    pid_t parent = getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw SysError(fmt::format("fork for `{}`", label), errno);
    if (pid == 0) {
        child_setup(parent, l.ns_fd.get(), l.out.get(), l.err.get(), l.pipe_w.get(), own_group);
        // Descriptors the parent left inheritable (sockets, BPF objects) stay
        // out of the new program.
        syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
        execvp(cargv[0], cargv.data());
        child_fail(l.pipe_w.get(), kStageExec);
    }
    check_child_started(pid, l, label, ns);
    return adopt(pid, std::move(label), std::move(l.out), std::move(l.err));
}

Process Process::fork(const Netns* ns, std::function<int()> fn, std::string label, Output output) {
    if (ns) label = fmt::format("[netns {}] {}", ns->name(), label);
    Launch l = prepare(ns, output);

    std::fflush(nullptr);
    pid_t parent = getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw SysError(fmt::format("fork for {}", label), errno);
    if (pid == 0) {
        child_setup(parent, l.ns_fd.get(), l.out.get(), l.err.get(), l.pipe_w.get());
        ::close(l.pipe_w.release());  // EOF: started
        int rc = 125;
        try {
            rc = fn();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", label.c_str(), e.what());
        } catch (...) {
            std::fprintf(stderr, "%s: unknown exception\n", label.c_str());
        }
        std::fflush(nullptr);
        _exit(rc & 0xff);
    }
    check_child_started(pid, l, label, ns);
    return adopt(pid, std::move(label), std::move(l.out), std::move(l.err));
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      exit_code_(std::exchange(o.exit_code_, std::nullopt)),
      label_(std::move(o.label_)) {}

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        reap_or_kill();
        pid_ = std::exchange(o.pid_, -1);
        pidfd_ = std::move(o.pidfd_);
        out_ = std::move(o.out_);
        err_ = std::move(o.err_);
        exit_code_ = std::exchange(o.exit_code_, std::nullopt);
        label_ = std::move(o.label_);
    }
    return *this;
}

Process::~Process() { reap_or_kill(); }

void Process::reap_or_kill() noexcept {
    if (pid_ <= 0 || exit_code_) return;
    kill(SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = decode_status(status);
}

void Process::kill(int sig) {
    if (pid_ <= 0 || exit_code_) return;
    // Through the pidfd: never hits a recycled pid.
    if (pidfd_send_signal(pidfd_.get(), sig) != 0 && errno != ESRCH)
        throw SysError(fmt::format("kill({}) {}", sig, label_), errno);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
    if (exit_code_ || pid_ <= 0) return exit_code_;
    auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd pfd{pidfd_.get(), POLLIN, 0};
        int n = poll(&pfd, 1, int(std::max<long long>(0, left.count())));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError(fmt::format("poll pidfd of {}", label_), errno);
        if (n == 0) return std::nullopt;
        int status;
        pid_t r;
        do r = waitpid(pid_, &status, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0) throw SysError(fmt::format("waitpid {}", label_), errno);
        exit_code_ = decode_status(status);
        return exit_code_;
    }
}

int Process::stop(std::chrono::milliseconds grace) {
    kill(SIGTERM);
    if (auto rc = wait(grace)) return *rc;
    reap_or_kill();
    return *exit_code_;
}

bool Process::running() { return pid_ > 0 && !wait(std::chrono::milliseconds(0)); }

std::string Process::out() const { return read_all(out_.get()); }
std::string Process::err() const { return read_all(err_.get()); }

// --- one-shot helpers ------------------------------------------------------------

CmdResult exec(const Netns* ns, std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    // Its own process group: a Ctrl-C meant for us must not cut a tool (ip,
    // xdp-filter) off half-way; we wait for it, or kill it at the timeout.
    Process p = Process::spawn_impl(ns, std::move(argv), Output::capture, true);
    CmdResult r;
    r.command = p.label();
    if (auto rc = p.wait(timeout)) {
        r.exit_code = *rc;
    } else {
        r.timed_out = true;
        p.kill(SIGKILL);
        p.wait(std::chrono::seconds(5));
    }
    r.out = p.out();
    r.err = p.err();
    spdlog::debug("net: `{}` -> {}{}", r.command, r.exit_code, r.timed_out ? " (timed out)" : "");
    return r;
}

CmdResult exec_checked(const Netns* ns, std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    CmdResult r = exec(ns, std::move(argv), timeout);
    if (!r.ok()) throw CommandError(std::move(r));
    return r;
}

int run_in(const Netns& ns, std::function<int()> fn, std::chrono::milliseconds timeout) {
    Process p = Process::fork(&ns, std::move(fn), "run_in", Output::inherit);
    if (auto rc = p.wait(timeout)) return *rc;
    throw std::runtime_error(fmt::format("{}: still running after {} ms, killed", p.label(), timeout.count()));
}

}  // namespace xdpd::net
