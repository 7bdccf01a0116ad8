// Running things inside a network namespace: one-shot commands with captured
// output (exec), functions in a forked child (run_in), and background
// processes owned by RAII handles (Process).
//
// Children are forked, switch namespace with setns(CLONE_NEWNET) and then run
// the function or execvp() the argv (never a shell string). Every child gets
// PR_SET_PDEATHSIG(SIGKILL), so it dies with the thread that forked it: a
// crashed test leaves no servers behind. Fork from a thread that outlives the
// child (the main thread, normally).
//
// Exit codes follow the shell convention: a child killed by signal N reports
// 128 + N.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/fd.hpp"

namespace xdpd::net {

class Netns;

// Captured result of one command.
struct CmdResult {
    std::string command;  // "[netns X] ip link add ..." for messages
    int exit_code = -1;   // 128 + signal when killed; -1 when it timed out
    bool timed_out = false;
    std::string out;
    std::string err;

    bool ok() const { return exit_code == 0 && !timed_out; }
};

// A command ran but failed (non-zero exit or timeout); what() names the
// command, its exit code and its stderr.
class CommandError : public std::runtime_error {
public:
    explicit CommandError(CmdResult r);
    const CmdResult& result() const { return result_; }

private:
    CmdResult result_;
};

// Where a child's stdout/stderr go.
enum class Output {
    capture,  // into memory files, read with Process::out()/err()
    inherit,  // the parent's stdout/stderr
};

// A child process (forked function or exec'd argv), optionally in a network
// namespace. The destructor kills it (SIGKILL) and reaps it.
class Process {
public:
    // Forks and execs argv[0] (PATH lookup) in ns (nullptr: the current
    // namespace). stdin is /dev/null. Throws SysError when setns or exec fails.
    static Process spawn(const Netns* ns, std::vector<std::string> argv, Output output = Output::capture);

    // Forks; the child enters ns and returns fn() as its exit code (an escaping
    // exception: message on stderr, exit 125). The child ends with _exit(), so
    // no atexit handlers or static destructors of the parent run in it.
    static Process fork(const Netns* ns, std::function<int()> fn, std::string label,
                        Output output = Output::capture);

    Process(Process&&) noexcept;
    Process& operator=(Process&&) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    const std::string& label() const { return label_; }

    // Sends sig unless the child was already reaped.
    void kill(int sig = SIGTERM);
    // Waits up to timeout for the exit; returns the exit code, or nullopt if
    // still running. Once reaped, returns the same code again at once.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // SIGTERM, up to grace to exit, then SIGKILL; returns the exit code.
    int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(1000));
    bool running();
    std::optional<int> exit_code() const { return exit_code_; }

    // Everything the child wrote so far (Output::capture only; else "").
    std::string out() const;
    std::string err() const;

private:
    friend CmdResult exec(const Netns*, std::vector<std::string>, std::chrono::milliseconds);
    static Process spawn_impl(const Netns* ns, std::vector<std::string> argv, Output output, bool own_group);
    // The handle of a child that started: its pidfd, its captured output.
    static Process adopt(pid_t pid, std::string label, UniqueFd out, UniqueFd err);
    Process() = default;
    void reap_or_kill() noexcept;

    pid_t pid_ = -1;
    UniqueFd pidfd_;
    UniqueFd out_, err_;
    std::optional<int> exit_code_;
    std::string label_;
};

// Runs argv in ns (nullptr: current namespace) and captures stdout/stderr.
// A command still running after timeout is killed (timed_out = true).
// Throws SysError only when it cannot start (no such binary, setns failed).
CmdResult exec(const Netns* ns, std::vector<std::string> argv,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// exec() that throws CommandError unless the command exited 0.
CmdResult exec_checked(const Netns* ns, std::vector<std::string> argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Forks; the child enters ns and returns fn(); returns that exit code. stdout
// and stderr are inherited. Throws std::runtime_error on timeout (the child is
// killed).
int run_in(const Netns& ns, std::function<int()> fn,
           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// "[netns X] a b c": how commands are named in messages and logs.
std::string describe_command(const Netns* ns, const std::vector<std::string>& argv);

}  // namespace xdpd::net
