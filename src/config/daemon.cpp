// The `daemon` section: where the daemon keeps its socket and pins, what it
// does on exit, how much it logs.
#include <fmt/format.h>
#include <sys/un.h>

#include "config/sections.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {
constexpr std::string_view kDaemonKeys[] = {"socket", "bpffs", "event_log", "on_exit", "log_level"};
constexpr std::string_view kOnExit[] = {"keep", "detach"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;
}  // namespace

void parse_daemon(const YAML::Node& node, DaemonConfig& out, Reporter& rep) {
    MapReader m(node, "daemon", "daemon", kDaemonKeys, rep);
    if (const Field* f = m.find("socket")) {
        if (auto s = read_scalar(*f, rep)) {
            if (s->empty())
                rep.error(f->value, "socket must be a path, got an empty string");
            else if (s->size() > kMaxSocketPath)
                rep.error(f->value, fmt::format("socket path is {} characters, a Unix socket path "
                                                "holds at most {}",
                                                s->size(), kMaxSocketPath));
            else
                out.socket = *s;
        }
    }
    if (const Field* f = m.find("bpffs")) {
        if (auto s = read_scalar(*f, rep)) {
            if (s->empty() || s->front() != '/')
                rep.error(f->value, fmt::format("bpffs must be an absolute path (under a bpf "
                                                "filesystem, e.g. /sys/fs/bpf/xdpd), got '{}'",
                                                *s));
            else
                out.bpffs = *s;
        }
    }
    if (const Field* f = m.find("event_log")) {
        if (auto s = read_scalar(*f, rep)) {
            if (*s != "off" && (s->empty() || s->front() != '/' || s->back() == '/'))
                rep.error(f->value, fmt::format("event_log must be an absolute file path or off, got '{}'", *s));
            else
                out.event_log = *s;
        }
    }
    if (const Field* f = m.find("on_exit"))
        if (auto i = read_choice(*f, kOnExit, rep)) out.detach_on_exit = *i == 1;
    if (const Field* f = m.find("log_level"))
        if (auto i = read_choice(*f, kLogLevels, rep)) out.log_level = std::string(kLogLevels[*i]);
}

}  // namespace xdpd::config::detail

namespace xdpd::config {

std::string event_log_path(const DaemonConfig& d) {
    if (d.event_log == "off") return "";
    if (!d.event_log.empty()) return d.event_log;
    std::string base = d.socket;
    if (base.size() > 5 && base.ends_with(".sock")) base.resize(base.size() - 5);
    return base + ".events.jsonl";
}

}  // namespace xdpd::config
