#include "bench/nft_ruleset.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/process.hpp"

namespace xdpd::bench {
namespace {

// lab_config()'s rules, in its order, each with a counter.
constexpr const char* kRules = R"(    ip saddr 10.77.0.3 counter drop comment "block-attacker"
    ip6 saddr fd77::3 counter drop comment "block-attacker-v6"
    meta l4proto tcp th dport 22 counter drop comment "no-ssh"
    meta l4proto tcp th dport 80 counter comment "web"
    meta l4proto udp th dport 10000-20000 counter drop comment "no-high-udp"
    ip6 saddr fd77::2 icmpv6 type echo-request counter drop comment "no-ping-v6-from-client"
)";

const char* family_of(NftHook h) { return h == NftHook::netdev_ingress ? "netdev" : "inet"; }

}  // namespace

std::string nft_lab_ruleset(NftHook hook, const std::string& table, const std::string& ifname) {
    if (hook == NftHook::netdev_ingress)
        return fmt::format("table netdev {} {{\n  chain ingress {{\n    type filter hook ingress device \"{}\" "
                           "priority -500; policy accept;\n{}  }}\n}}\n",
                           table, ifname, kRules);
    return fmt::format("table inet {} {{\n  chain prerouting {{\n    type filter hook prerouting priority "
                       "filter; policy accept;\n{}  }}\n}}\n",
                       table, kRules);
}

NftTable::NftTable(const net::Netns& ns, NftHook hook, std::string table, const std::string& ifname)
    : ns_(ns), family_(family_of(hook)), table_(std::move(table)), text_(nft_lab_ruleset(hook, table_, ifname)) {
    char path[] = "/tmp/xdpd-livebench-nft-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp for the nft ruleset failed");
    ::close(fd);
    std::ofstream(path) << text_;
    auto r = net::exec(&ns_, {"nft", "-f", path});
    ::unlink(path);
    if (!r.ok()) throw net::CommandError(r);
}

NftTable::~NftTable() {
    try {
        auto r = net::exec(&ns_, {"nft", "delete", "table", family_, table_});
        if (!r.ok()) spdlog::warn("livebench: {}: {}", r.command, r.err);
    } catch (const std::exception& e) {
        spdlog::warn("livebench: deleting nft table {}: {}", table_, e.what());
    }
}

uint64_t NftTable::rule_packets(const std::string& comment) const {
    auto r = net::exec_checked(&ns_, {"nft", "-j", "list", "table", family_, table_});
    auto j = nlohmann::json::parse(r.out);
    for (const auto& item : j.at("nftables")) {
        if (!item.contains("rule")) continue;
        const auto& rule = item["rule"];
        if (rule.value("comment", "") != comment) continue;
        for (const auto& e : rule.at("expr"))
            if (e.contains("counter")) return e["counter"].at("packets").get<uint64_t>();
    }
    throw std::runtime_error(fmt::format("no counted rule '{}' in nft table {} {}", comment, family_, table_));
}

}  // namespace xdpd::bench
