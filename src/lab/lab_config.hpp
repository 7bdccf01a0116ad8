// The config the lab runs xdpd with: a small, readable firewall for the
// server, as an operator would write it (see docs/config.md).
#pragma once
#include <fmt/format.h>

#include <string>

namespace xdpd::lab {

inline std::string lab_config(const std::string& socket, const std::string& bpffs) {
    return fmt::format(R"(# xdpd lab: the firewall in front of the server (srv0, 10.77.0.1, fd77::1)
interfaces:
  - name: srv0
    mode: auto
parser:
  malformed: drop
firewall:
  default: allow
  rules:
    - id: block-attacker
      action: deny
      src: 10.77.0.3/32
    - id: block-attacker-v6
      action: deny
      src: fd77::3/128
    - id: no-ssh
      action: deny
      proto: tcp
      dport: 22
    - id: web
      action: count
      proto: tcp
      dport: 80
    - id: no-high-udp
      action: deny
      proto: udp
      dport: 10000-20000
    - id: no-ping-v6-from-client
      action: deny
      proto: icmpv6
      icmp_type: echo-request
      src: fd77::2/128
daemon:
  socket: {}
  bpffs: {}
  on_exit: detach
)",
                       socket, bpffs);
}

}  // namespace xdpd::lab
