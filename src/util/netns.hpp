// Entering a named network namespace (as `ip netns` names them) without
// touching the mount namespace, so /sys/fs/bpf stays the host's bpffs.
#pragma once
#include <string>

namespace xdpd::util {

void enter_netns(const std::string& name);

}  // namespace xdpd::util
