// The load balancer's maps, filled from the config (bpf/lb.h reads them).
//
// A service keeps its VIP index and each (service, backend) pair its backend
// slot across applies and daemon restarts: both are read back from the pinned
// maps, so established flows (whose table entries name a slot and its
// generation) stay where they are. A slot given to a new backend gets a new
// generation: flows of the backend that held it re-hash instead of reaching a
// stranger.
//
// An apply changes the data plane in an order that never shows a half-built
// state to packets: backends first, then rings (only the entries that
// differ), then VIP entries and NAT keys, then removals.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/map.hpp"
#include "config/config.hpp"

namespace xdpd::lb {

// "web/10.78.0.11:8080": a backend of a service, for health checks, weight
// overrides and messages.
std::string backend_key(const config::LbServiceConfig& s, const config::LbBackendConfig& b);

struct LbState {
    // Backends currently failing their health checks (by backend_key): out of
    // the ring, their flows re-hash.
    std::function<bool(const std::string& key)> healthy = [](const std::string&) { return true; };
    // Weights set through the API/CLI, by backend_key; they win over the config.
    std::map<std::string, unsigned> weights;
    // Backends added (by service name) and removed (by backend_key) through the
    // API/CLI: they change the config's sets until the daemon restarts.
    std::map<std::string, std::vector<config::LbBackendConfig>> added;
    std::set<std::string> removed;
};

// The config's services with the API's additions and removals applied.
config::LbConfig effective(const config::LbConfig& cfg, const LbState& state);

class Installer {
public:
    using MapFn = std::function<bpf::MapRef(const std::string&)>;
    explicit Installer(MapFn maps);
    ~Installer();

    // Makes the maps hold cfg. ifindexes: the interfaces packets may be
    // redirected to. Returns one note per change, in words.
    std::vector<std::string> apply(const config::LbConfig& cfg, const std::vector<__u32>& ifindexes,
                                   const LbState& state);

    // Services, backends (weight, health, ring share, slot) and counters.
    nlohmann::json status(const config::LbConfig& cfg, const LbState& state) const;

    // The slot of a backend, or -1 (for `lb lookup`).
    int slot_of(const config::LbServiceConfig& s, const config::LbBackendConfig& b) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace xdpd::lb
