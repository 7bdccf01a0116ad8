#include "xskapp/registration.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>

#include <stdexcept>

#include "steer/xsk_map.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace xdpd::xskapp {
namespace {

// The id of the map pinned at path, 0 when there is none.
__u32 pinned_map_id(const std::string& path) {
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) return 0;
    bpf_map_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return 0;
    return info.id;
}

}  // namespace

std::string steer_rule_hint(const std::string& ifname) {
    return fmt::format(
        "The AF_XDP apps receive what xdpd steers to them: run the daemon on {0} with a rule\n"
        "`action: steer` (to: xsk) for the traffic the app should get, e.g.\n"
        "  interfaces:\n"
        "    - name: {0}\n"
        "  firewall:\n"
        "    rules:\n"
        "      - {{id: app, action: steer, proto: udp, dport: 5000}}\n"
        "then `xdpd run -c CONFIG` (same --bpffs as this command; see docs/steering.md).",
        ifname);
}

Registration::Registration(std::string ifname, std::string bpffs, std::vector<std::pair<uint32_t, int>> queue_fds)
    : ifname_(std::move(ifname)), bpffs_(std::move(bpffs)), queue_fds_(std::move(queue_fds)) {
    std::optional<__u32> slot;
    try {
        slot = steer::interface_slot(ifname_, bpffs_);
    } catch (const SysError& e) {
        throw std::runtime_error(fmt::format("no xdpd data plane at {} ({}).\n{}", bpffs_, e.what(),
                                             steer_rule_hint(ifname_)));
    }
    if (!slot)
        throw std::runtime_error(fmt::format("xdpd (data plane at {}) does not serve {}.\n{}", bpffs_, ifname_,
                                             steer_rule_hint(ifname_)));
    slot_ = *slot;
    for (const auto& [q, fd] : queue_fds_) steer::XskMap::index(slot_, q);  // throws for queues >= 64
    insert_all();
}

Registration::~Registration() {
    try {
        steer::XskMap map(bpffs_);
        for (const auto& [q, fd] : queue_fds_) map.erase(slot_, q);
    } catch (const std::exception&) {
        // The daemon detached (pins gone): our entries went with the map.
    }
}

void Registration::insert_all() {
    steer::XskMap map(bpffs_);
    for (const auto& [q, fd] : queue_fds_) map.insert(slot_, q, fd);
    map_id_ = pinned_map_id(steer::xsk_map_path(bpffs_));
}

std::optional<std::string> Registration::keep() {
    std::optional<__u32> slot;
    try {
        slot = steer::interface_slot(ifname_, bpffs_);
    } catch (const SysError& e) {
        if (lost_) return std::nullopt;
        lost_ = true;
        return fmt::format("xdpd's maps are gone from {} ({}); waiting for the daemon", bpffs_, e.what());
    }
    if (!slot) {
        if (lost_) return std::nullopt;
        lost_ = true;
        return fmt::format("xdpd no longer serves {}; waiting for it to come back", ifname_);
    }
    const __u32 old_slot = slot_, old_id = map_id_;
    const bool was_lost = lost_;
    try {
        if (*slot != slot_) {
            try {
                steer::XskMap map(bpffs_);
                for (const auto& [q, fd] : queue_fds_) map.erase(slot_, q);
            } catch (const std::exception&) {
            }
            slot_ = *slot;
        }
        insert_all();  // idempotent for entries that hold our sockets
    } catch (const std::exception& e) {
        if (lost_) return std::nullopt;
        lost_ = true;
        return fmt::format("cannot register the sockets of {}: {}", ifname_, e.what());
    }
    lost_ = false;
    if (was_lost || old_slot != slot_ || old_id != map_id_)
        return fmt::format("sockets of {} registered again (slot {}, XSKMAP id {})", ifname_, slot_, map_id_);
    return std::nullopt;
}

}  // namespace xdpd::xskapp
