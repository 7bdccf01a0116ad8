// The control API's `lb` command: the load balancer's status, `lookup`, live
// weights, and backends added or removed until the daemon restarts. Also the
// health check targets of a config's services.
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "daemon/dataplane.hpp"
#include "lb/health.hpp"

namespace xdpd::daemon {

// One target per backend of every service (key: lb::backend_key).
std::vector<lb::HealthTarget> health_targets(const config::LbConfig& cfg);

class LbApi {
public:
    // All three are the daemon's and outlive this object; dp may be reset.
    LbApi(std::unique_ptr<DataPlane>& dp, lb::HealthChecker& health, const config::Config& cfg)
        : dp_(dp), health_(health), cfg_(cfg) {}

    // {"op": "status" | "lookup" | "weight" | "add" | "remove", ...}
    nlohmann::json handle(const nlohmann::json& req);
    // Health checks for the current backends (config + API changes).
    void retarget();

private:
    nlohmann::json membership(const std::string& op, const nlohmann::json& req);

    std::unique_ptr<DataPlane>& dp_;
    lb::HealthChecker& health_;
    const config::Config& cfg_;
};

}  // namespace xdpd::daemon
