#include "bench/xdp_filter.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "bench/measure.hpp"
#include "net/process.hpp"
#include "util/error.hpp"

namespace xdpd::bench {
namespace {

constexpr const char* kPinDir = "/sys/fs/bpf/xdp-filter";
constexpr const char* kIpv4Map = "/sys/fs/bpf/xdp-filter/filter_ipv4";
constexpr const char* kLockFiles[] = {"/run/xdp-filter.lck", "/var/run/xdp-filter.lck"};

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// A tool's run, its output as one string (what the messages quote).
struct ToolRun {
    bool success;
    std::string output;
    bool ok() const { return success; }
};

ToolRun run_command(const std::vector<std::string>& argv) {
    auto r = net::exec(nullptr, argv, std::chrono::seconds(60));
    return {r.ok(), r.out + r.err};
}

void must(const std::vector<std::string>& argv) { net::exec_checked(nullptr, argv, std::chrono::seconds(60)); }

// Absolute path of a program in PATH, /usr/sbin or /sbin; empty if none.
std::string find_program(const std::string& name) {
    std::string path = getenv("PATH") ? getenv("PATH") : "";
    path += ":/usr/sbin:/sbin";
    for (size_t i = 0; i <= path.size();) {
        size_t j = path.find(':', i);
        if (j == std::string::npos) j = path.size();
        std::string cand = path.substr(i, j - i) + "/" + name;
        if (j > i && access(cand.c_str(), X_OK) == 0) return cand;
        i = j + 1;
    }
    return "";
}

__u32 ipv4_key(const std::string& dotted) {
    in_addr a{};
    if (inet_pton(AF_INET, dotted.c_str(), &a) != 1)
        throw std::invalid_argument("not an IPv4 address: " + dotted);
    return a.s_addr;  // network byte order, as xdp-filter keys its map
}

}  // namespace

// ---- ScratchInterface -------------------------------------------------------

ScratchInterface::ScratchInterface(std::string name) : name_(std::move(name)) {
    if (name_.size() >= IFNAMSIZ - 1) throw std::invalid_argument("interface name too long: " + name_);
    auto dummy = run_command({"ip", "link", "add", name_, "type", "dummy"});
    if (dummy.ok()) {
        kind_ = "dummy";
    } else {
        auto veth = run_command({"ip", "link", "add", name_, "type", "veth", "peer", "name", name_ + "p"});
        if (!veth.ok())
            throw std::runtime_error(fmt::format(
                "cannot create a scratch interface: 'ip link add {0} type dummy': {1}; "
                "'ip link add {0} type veth ...': {2}",
                name_, dummy.output, veth.output));
        kind_ = "veth";
    }
    try {
        must({"ip", "link", "set", name_, "up"});
        if (kind_ == "veth") must({"ip", "link", "set", name_ + "p", "up"});
        ifindex_ = int(if_nametoindex(name_.c_str()));
        if (!ifindex_) throw SysError("if_nametoindex " + name_, errno);
    } catch (...) {
        run_command({"ip", "link", "del", name_});
        throw;
    }
}

ScratchInterface::~ScratchInterface() {
    auto r = run_command({"ip", "link", "del", name_});  // a veth peer goes with it
    if (!r.ok())
        std::fprintf(stderr, "xdpd-bench: warning: could not delete interface %s: %s\n",
                     name_.c_str(), r.output.c_str());
}

// ---- xdp-filter -------------------------------------------------------------

std::optional<std::string> xdp_filter_unavailable() {
    if (find_program("xdp-filter").empty()) return "xdp-filter is not installed (package xdp-tools)";
    if (find_program("ip").empty()) return "ip (iproute2) is not installed";
    if (geteuid() != 0) return "needs root";
    if (exists(kPinDir))
        return fmt::format(
            "xdp-filter is already loaded on this host (its maps, pinned in {}, are shared by "
            "every interface it runs on); not touching it",
            kPinDir);
    for (const char* f : kLockFiles)
        if (exists(f))
            return fmt::format("xdp-filter's lock file {} exists (another xdp-filter command "
                               "running, or a stale lock)",
                               f);
    return std::nullopt;
}

std::string XdpFilterAddReport::describe() const {
    std::string s = fmt::format("{} xdp-filter commands in {:.0f} ms ({:.1f} ms each)", cli_commands,
                                cli_ms, cli_commands ? cli_ms / double(cli_commands) : 0.0);
    if (bulk_entries)
        s += fmt::format(", {} addresses written into its pinned filter_ipv4 map in {:.1f} ms",
                         bulk_entries, bulk_ms);
    return s;
}

XdpFilterSession::XdpFilterSession(const ScratchInterface& iface) : iface_(iface) {
    try {
        must({"xdp-filter", "load", iface_.name(), "-m", "skb"});
        check(bpf_xdp_query_id(iface_.ifindex(), XDP_FLAGS_SKB_MODE, &prog_id_),
              "query the XDP program on " + iface_.name());
        if (!prog_id_)
            throw std::runtime_error("xdp-filter load succeeded but no XDP program is attached to " +
                                     iface_.name());
        int fd = bpf_prog_get_fd_by_id(prog_id_);
        if (fd < 0) throw SysError(fmt::format("open program id {}", prog_id_), errno);
        prog_.reset(fd);
        bpf_prog_info info{};
        __u32 len = sizeof info;
        check(bpf_obj_get_info_by_fd(fd, &info, &len), "query program info");
        prog_name_ = info.name;
    } catch (...) {
        prog_.reset();
        run_command({"xdp-filter", "unload", iface_.name()});  // whatever a failed load left
        throw;
    }
}

XdpFilterSession::~XdpFilterSession() {
    prog_.reset();
    auto r = run_command({"xdp-filter", "unload", iface_.name()});
    if (!r.ok())
        std::fprintf(stderr,
                     "xdpd-bench: warning: 'xdp-filter unload %s' failed: %s\n"
                     "  clean up with: xdp-filter unload --all\n",
                     iface_.name().c_str(), r.output.c_str());
}

XdpFilterAddReport XdpFilterSession::add(const XdpFilterRuleSet& rules, size_t cli_addresses) {
    XdpFilterAddReport rep;
    auto t0 = std::chrono::steady_clock::now();
    for (uint16_t p : rules.ports) {
        throw_if_interrupted();
        must({"xdp-filter", "port", std::to_string(p)});  // dst, tcp and udp: the defaults
        ++rep.cli_commands;
    }
    size_t n_cli = std::min(std::max<size_t>(cli_addresses, 1), rules.src_ipv4.size());
    for (size_t i = 0; i < n_cli; ++i) {
        throw_if_interrupted();
        must({"xdp-filter", "ip", rules.src_ipv4[i], "-m", "src"});
        ++rep.cli_commands;
    }
    rep.cli_ms = ms_since(t0);
    if (n_cli == rules.src_ipv4.size()) return rep;

    // The rest: the same value the CLI stored for the first address, per CPU.
    t0 = std::chrono::steady_clock::now();
    UniqueFd map(bpf_obj_get(kIpv4Map));
    if (!map) throw SysError(std::string("open xdp-filter's map ") + kIpv4Map, errno);
    const int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) throw SysError("count possible CPUs", -ncpu);
    std::vector<__u64> value(static_cast<size_t>(ncpu));
    __u32 first = ipv4_key(rules.src_ipv4[0]);
    check(bpf_map_lookup_elem(map.get(), &first, value.data()),
          "read back the entry xdp-filter wrote for " + rules.src_ipv4[0]);

    std::vector<__u32> keys;
    std::vector<__u64> values;
    for (size_t i = n_cli; i < rules.src_ipv4.size(); ++i) {
        keys.push_back(ipv4_key(rules.src_ipv4[i]));
        values.insert(values.end(), value.begin(), value.end());
    }
    __u32 count = __u32(keys.size());
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    if (bpf_map_update_batch(map.get(), keys.data(), values.data(), &count, &opts)) {
        for (size_t i = 0; i < keys.size(); ++i)
            check(bpf_map_update_elem(map.get(), &keys[i], &values[i * size_t(ncpu)], BPF_ANY),
                  "add " + rules.src_ipv4[n_cli + i] + " to xdp-filter's filter_ipv4");
    }
    rep.bulk_entries = keys.size();
    rep.bulk_ms = ms_since(t0);
    return rep;
}

size_t XdpFilterSession::ipv4_entries() const {
    UniqueFd map(bpf_obj_get(kIpv4Map));
    if (!map) throw SysError(std::string("open xdp-filter's map ") + kIpv4Map, errno);
    size_t n = 0;
    __u32 cur = 0, next = 0;
    const __u32* prev = nullptr;
    while (bpf_map_get_next_key(map.get(), prev, &next) == 0) {
        ++n;
        cur = next;
        prev = &cur;
    }
    return n;
}

}  // namespace xdpd::bench
