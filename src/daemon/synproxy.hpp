// The netfilter half of SYN cookies (docs/syncookies.md). XDP answers SYNs to
// the protected ports with cookie SYN-ACKs and passes ACKs with valid cookies;
// netfilter's SYNPROXY turns such an ACK into a real handshake with the local
// service. This sets up what SYNPROXY needs, in the daemon's network namespace:
//
//   table inet xdpd_synproxy
//     prerouting (raw):  SYNs to the ports on the interfaces -> notrack
//     input (filter):    invalid/untracked segments to the ports -> synproxy
//                        (the cookie ACKs; also SYNs XDP left to the kernel),
//                        remaining invalid ones -> drop
//   net.netfilter.nf_conntrack_tcp_loose = 0  (else conntrack would adopt the
//                        cookie ACK as a mid-stream connection, and SYNPROXY
//                        would never see it)
//
// The table is replaced atomically on every apply. The sysctl's previous value
// is kept in the table's comment, so a restarted daemon still restores it.
// The table lives as long as the data plane that needs it (it stays when the
// daemon exits and keeps the data plane attached), not as long as an object.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpd::daemon {

inline constexpr const char* kSynproxyTable = "xdpd_synproxy";  // family inet

struct SynproxySettings {
    std::vector<uint16_t> ports;
    std::vector<std::string> interfaces;  // segments arriving elsewhere are left alone
    uint16_t mss4 = 1460, mss6 = 1440;
    uint8_t wscale = 7;
};

// The nft commands (one transaction) that install the table; saved_loose goes
// into its comment.
std::string synproxy_script(const SynproxySettings& s, int saved_loose);

// Installs or replaces the table and sets nf_conntrack_tcp_loose to 0.
// Throws std::runtime_error naming the failing command. Returns a note.
std::string synproxy_apply(const SynproxySettings& s);

// Deletes the table and restores nf_conntrack_tcp_loose. Returns a note, or
// nullopt when there was no table. Never throws (failures become the note).
std::optional<std::string> synproxy_remove();

bool synproxy_installed();

// RAII for tests and one-shot tools: applies on construction, removes on
// destruction.
class SynproxyGuard {
public:
    explicit SynproxyGuard(const SynproxySettings& s) { synproxy_apply(s); }
    ~SynproxyGuard() { synproxy_remove(); }
    SynproxyGuard(const SynproxyGuard&) = delete;
    SynproxyGuard& operator=(const SynproxyGuard&) = delete;
};

}  // namespace xdpd::daemon
