// One parser per section of the config file; each fills its part of Config
// and reports what is wrong. Internal.
#pragma once
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace xdpd::config::detail {

// The whole document.
Config parse_document(const YAML::Node& root, Reporter& rep);

// interfaces: a non-empty list of {name, mode}.
void parse_interfaces(const YAML::Node& node, const YAML::Node& key, Config& cfg, Reporter& rep);

// firewall: {enabled, default, monitor, rules}. Rules may name only the
// interfaces already in cfg.interfaces.
void parse_firewall(const YAML::Node& node, Config& cfg, Reporter& rep);

// One entry of firewall.rules; `number` is 1-based, for messages. Best
// effort: a field with an error is reported and left unset, so the caller
// tells a valid rule by rep.error_count() not growing.
fw::Rule parse_rule(const YAML::Node& node, size_t number,
                    const std::vector<InterfaceConfig>& interfaces, Reporter& rep);

// shield: {enabled, allow: [prefix...], bans: [{prefix, duration, reason}...]}.
void parse_shield(const YAML::Node& node, ShieldConfig& out, Reporter& rep);

// syncookies: {enabled, mode, ports: [port...], mss, mss6, wscale, ttl}.
void parse_syncookies(const YAML::Node& node, SyncookieConfig& out, Reporter& rep);

// mitigation: {enabled, smoothing, cooldown, sample, hook, thresholds, actions,
// watch: [{name, prefixes, thresholds, actions}...]}.
void parse_mitigation(const YAML::Node& node, MitigationConfig& out, Reporter& rep);

// Checks what mitigation refers to in other sections: limit profiles (binds
// limit_index) and SYN cookies in auto mode.
void resolve_mitigation(const YAML::Node& root, Config& cfg, Reporter& rep);

// Binds each rule's `limit` to its profile in shield.limits (after both
// sections are read; `root` gives the positions).
void resolve_limits(const YAML::Node& root, Config& cfg, Reporter& rep);

// lb: {enabled, udp_timeout, new_flow_limit, services: [{name, vip, proto,
// port, mode, health, backends: [{addr, port, weight}...]}...]}. Also checks
// it against syncookies (a VIP port must not be a SYN cookie port).
void parse_lb(const YAML::Node& node, Config& cfg, Reporter& rep);

// steer: {cpus: [cpu...], queue_size, no_socket: pass|drop}.
void parse_steer(const YAML::Node& node, SteerConfig& out, Reporter& rep);

// Fills steer.cpus with the online CPUs unless given, checks the given ones
// are online, and each steer rule's `cpu:` against them.
void resolve_steer(const YAML::Node& root, Config& cfg, Reporter& rep);

// metrics: {listen, top_sources, source_sample}; events: {rate, reasons}.
void parse_metrics(const YAML::Node& node, ObserveConfig& out, Reporter& rep);
void parse_events(const YAML::Node& node, ObserveConfig& out, Reporter& rep);

// daemon: {socket, bpffs, on_exit, log_level}.
void parse_daemon(const YAML::Node& node, DaemonConfig& out, Reporter& rep);

}  // namespace xdpd::config::detail
