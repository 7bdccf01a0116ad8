// Registration: the app's sockets in xdpd's pinned XSKMAP, at
// XDPD_XSK_INDEX(slot of the interface, queue). keep() puts them there again
// (a no-op for an entry that already holds the socket), so a daemon that was
// restarted, detached and started again, or that gave the interface another
// slot, gets them back within a second. The destructor takes them out:
// traffic then goes the way steer.no_socket says.
#pragma once
#include <linux/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xdpd::xskapp {

class Registration {
public:
    // Needs the daemon's maps: throws std::runtime_error saying what to do
    // when there is no data plane at bpffs or it does not serve ifname.
    Registration(std::string ifname, std::string bpffs, std::vector<std::pair<uint32_t, int>> queue_fds);
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();

    __u32 slot() const { return slot_; }
    // Re-registers; returns a note when something changed or went wrong
    // (logged by the caller), nullopt when all is as before.
    std::optional<std::string> keep();

private:
    void insert_all();

    std::string ifname_, bpffs_;
    std::vector<std::pair<uint32_t, int>> queue_fds_;
    __u32 slot_ = 0;
    __u32 map_id_ = 0;
    bool lost_ = false;  // the last keep() could not register
};

// What to tell a user whose interface xdpd does not serve (or no daemon runs).
std::string steer_rule_hint(const std::string& ifname);

}  // namespace xdpd::xskapp
