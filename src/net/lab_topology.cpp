#include "net/lab_topology.hpp"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/link.hpp"

namespace xdpd::net {
namespace {

constexpr Lab::Host kHosts[] = {Lab::Host::server, Lab::Host::client, Lab::Host::attacker};

int host_number(Lab::Host h) {
    switch (h) {
        case Lab::Host::server: return 1;
        case Lab::Host::client: return 2;
        case Lab::Host::attacker: return 3;
    }
    throw std::invalid_argument("bad Lab::Host");
}

const char* short_name(Lab::Host h) {
    switch (h) {
        case Lab::Host::server: return "srv";
        case Lab::Host::client: return "cli";
        case Lab::Host::attacker: return "atk";
    }
    throw std::invalid_argument("bad Lab::Host");
}

void check_version(int version) {
    if (version != 4 && version != 6)
        throw std::invalid_argument(fmt::format("IP version must be 4 or 6, not {}", version));
}

}  // namespace

Lab::Lab(std::string prefix)
    : prefix_(std::move(prefix)),
      server_(Netns::create(prefix_ + "-server")),
      client_(Netns::create(prefix_ + "-client")),
      attacker_(Netns::create(prefix_ + "-attacker")),
      sw_(Netns::create(prefix_ + "-sw")) {
    build();  // a throw here destroys the members: the namespaces go
    spdlog::debug("net: lab {} ready", prefix_);
}

void Lab::build() {
    // The bridge first, so that it takes ifindex 2 in sw: the switch ports then
    // never share an ifindex with their peers (also 2, in fresh namespaces),
    // which would make the kernel defer their link-up work by up to a second.
    bridge(&sw_, kBridge, {});
    for (Host h : kHosts) {
        const Netns& host = ns(h);
        veth_pair(&host, ifname(h), &sw_, switch_port(h));
        disable_offloads(&host, ifname(h));
        disable_offloads(&sw_, switch_port(h));
        add_addr(&host, ifname(h), cidr(h, 4));
        add_addr(&host, ifname(h), cidr(h, 6));
        ip_cmd(&sw_, {"link", "set", "dev", switch_port(h), "master", kBridge});
    }
    for (Host h : kHosts) {
        link_up(&sw_, switch_port(h));
        link_up(&ns(h), ifname(h));
    }
    for (Host h : kHosts) {
        wait_link_up(&sw_, switch_port(h));
        wait_link_up(&ns(h), ifname(h));
    }
}

const Netns& Lab::ns(Host h) const {
    switch (h) {
        case Host::server: return server_;
        case Host::client: return client_;
        case Host::attacker: return attacker_;
    }
    throw std::invalid_argument("bad Lab::Host");
}

std::string Lab::ifname(Host h) { return fmt::format("{}0", short_name(h)); }
std::string Lab::switch_port(Host h) { return fmt::format("sw-{}", short_name(h)); }

std::string Lab::addr(Host h, int version) {
    check_version(version);
    return version == 4 ? fmt::format("10.77.0.{}", host_number(h)) : fmt::format("fd77::{}", host_number(h));
}

std::string Lab::cidr(Host h, int version) {
    return fmt::format("{}/{}", addr(h, version), version == 4 ? kPrefixLen4 : kPrefixLen6);
}

std::vector<std::string> Lab::netns_names() const {
    return {server_.name(), client_.name(), attacker_.name(), sw_.name()};
}

void Lab::release() {
    for (Netns* n : {&server_, &client_, &attacker_, &sw_}) n->release();
}

std::vector<std::string> Lab::cleanup_stale(std::string_view prefix) {
    if (prefix.empty()) throw std::invalid_argument("Lab::cleanup_stale: empty prefix would match every namespace");
    std::vector<std::string> removed;
    for (const auto& name : list_netns()) {
        if (!name.starts_with(prefix)) continue;
        remove_netns(name);
        removed.push_back(name);
    }
    return removed;
}

std::vector<std::string> Lab::cleanup_orphans(std::string_view base) {
    if (base.empty()) throw std::invalid_argument("Lab::cleanup_orphans: empty base");
    std::vector<std::string> removed;
    for (const auto& name : list_netns()) {
        if (!name.starts_with(base)) continue;
        // base, the creator's pid, then the counter in letters.
        size_t i = base.size(), digits = 0;
        long long pid = 0;
        while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && digits < 10) {
            pid = pid * 10 + (name[i++] - '0');
            ++digits;
        }
        if (digits == 0 || i >= name.size() || !std::islower(static_cast<unsigned char>(name[i]))) continue;
        if (pid == getpid() || ::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // its creator still runs
        remove_netns(name);
        removed.push_back(name);
    }
    return removed;
}

}  // namespace xdpd::net
