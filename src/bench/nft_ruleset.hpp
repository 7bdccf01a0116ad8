// The nftables side of the live benchmark: the lab's firewall rules written
// for nft, loaded into a table of their own in the receiver's namespace, and
// the table deleted again on destruction.
//
//   netdev:     table netdev NAME { chain ingress { type filter hook ingress
//               device IF priority -500; ... } }   (the earliest nft hook: before
//               the IP stack, right after the driver hands over the skb)
//   prerouting: table inet NAME { chain prerouting { type filter hook
//               prerouting priority filter; ... } } (in the IP stack)
//
// Every rule has a counter and a comment naming the xdpd rule it mirrors.
#pragma once
#include <cstdint>
#include <string>

#include "net/netns.hpp"

namespace xdpd::bench {

enum class NftHook { netdev_ingress, inet_prerouting };

// The ruleset text (for `nft -f`) for the lab's rules (lab/lab_config.hpp).
std::string nft_lab_ruleset(NftHook hook, const std::string& table, const std::string& ifname);

class NftTable {
public:
    NftTable(const net::Netns& ns, NftHook hook, std::string table, const std::string& ifname);
    ~NftTable();  // nft delete table ...
    NftTable(const NftTable&) = delete;
    NftTable& operator=(const NftTable&) = delete;

    // Packets counted by the rule with this comment (throws if none).
    uint64_t rule_packets(const std::string& comment) const;
    const std::string& ruleset() const { return text_; }

private:
    const net::Netns& ns_;
    std::string family_, table_, text_;
};

}  // namespace xdpd::bench
