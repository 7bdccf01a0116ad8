#include "daemon/synproxy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <regex>
#include <stdexcept>

#include "net/process.hpp"

namespace xdpd::daemon {
namespace {

constexpr const char* kLooseSysctl = "/proc/sys/net/netfilter/nf_conntrack_tcp_loose";
constexpr const char* kCommentPrefix = "xdpd synproxy; restore nf_conntrack_tcp_loose=";

std::optional<int> read_loose() {
    std::ifstream in(kLooseSysctl);
    int v;
    if (in >> v) return v;
    return std::nullopt;
}

bool write_loose(int v) {
    std::ofstream out(kLooseSysctl);
    out << v << "\n";
    out.flush();
    return bool(out);
}

// The value the table's comment says to restore, if the table exists.
std::optional<int> saved_loose_in_table() {
    net::CmdResult r;
    try {
        r = net::exec(nullptr, {"nft", "list", "table", "inet", kSynproxyTable});
    } catch (const std::exception&) {
        return std::nullopt;  // no nft: no table of ours either
    }
    if (!r.ok()) return std::nullopt;
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex("restore nf_conntrack_tcp_loose=([0-9]+)")))
        return std::stoi(m[1]);
    return 1;  // the kernel's default
}

std::string quoted_list(const std::vector<std::string>& names) {
    std::vector<std::string> q;
    for (const auto& n : names) q.push_back("\"" + n + "\"");
    return fmt::format("{{ {} }}", fmt::join(q, ", "));
}

}  // namespace

std::string synproxy_script(const SynproxySettings& s, int saved_loose) {
    if (s.ports.empty() || s.interfaces.empty())
        throw std::invalid_argument("synproxy needs ports and interfaces");
    const std::string t = fmt::format("inet {}", kSynproxyTable);
    const std::string match = fmt::format("iifname {} tcp dport {{ {} }}", quoted_list(s.interfaces),
                                          fmt::join(s.ports, ", "));
    const std::string opts = fmt::format("wscale {} timestamp sack-perm", s.wscale);
    // add + delete + add: replaces the table in one transaction, whether or
    // not it existed.
    return fmt::format(
        "add table {t}; delete table {t}; "
        "add table {t} {{ comment \"{c}{loose}\"; }}; "
        "add chain {t} syn_notrack {{ type filter hook prerouting priority raw; policy accept; }}; "
        "add rule {t} syn_notrack {m} tcp flags & (fin|syn|rst|ack) == syn notrack; "
        "add chain {t} cookie_ack {{ type filter hook input priority filter; policy accept; }}; "
        "add rule {t} cookie_ack meta nfproto ipv4 {m} ct state {{ invalid, untracked }} synproxy mss {mss4} {o}; "
        "add rule {t} cookie_ack meta nfproto ipv6 {m} ct state {{ invalid, untracked }} synproxy mss {mss6} {o}; "
        "add rule {t} cookie_ack {m} ct state invalid drop",
        fmt::arg("t", t), fmt::arg("c", kCommentPrefix), fmt::arg("loose", saved_loose), fmt::arg("m", match),
        fmt::arg("mss4", s.mss4), fmt::arg("mss6", s.mss6), fmt::arg("o", opts));
}

std::string synproxy_apply(const SynproxySettings& s) {
    // Keep the value from before the first apply, across re-applies and restarts.
    int saved = saved_loose_in_table().value_or(read_loose().value_or(1));
    auto r = net::exec(nullptr, {"nft", synproxy_script(s, saved)});
    if (!r.ok())
        throw std::runtime_error(fmt::format("could not install nftables table inet {} for SYNPROXY: {}{}",
                                             kSynproxyTable, r.err, r.out));
    // The table exists now, so conntrack runs in this namespace and its sysctl too.
    if (!write_loose(0)) {
        synproxy_remove();
        throw std::runtime_error(fmt::format("could not set {} to 0", kLooseSysctl));
    }
    return fmt::format("syncookies: SYNPROXY for tcp ports {} on {} (nftables table inet {}, "
                       "nf_conntrack_tcp_loose 0, was {})",
                       fmt::join(s.ports, ","), fmt::join(s.interfaces, ","), kSynproxyTable, saved);
}

bool synproxy_installed() { return saved_loose_in_table().has_value(); }

std::optional<std::string> synproxy_remove() {
    auto saved = saved_loose_in_table();
    if (!saved) return std::nullopt;
    auto r = net::exec(nullptr, {"nft", "delete", "table", "inet", kSynproxyTable});
    if (!r.ok()) return fmt::format("syncookies: could not delete table inet {}: {}", kSynproxyTable, r.err);
    if (!write_loose(*saved))
        return fmt::format("syncookies: table inet {} deleted; could not restore {}={}", kSynproxyTable,
                           kLooseSysctl, *saved);
    return fmt::format("syncookies: table inet {} deleted, nf_conntrack_tcp_loose restored to {}",
                       kSynproxyTable, *saved);
}

}  // namespace xdpd::daemon
