// Tests build packets with xdpd::pkt::PacketBuilder (src/pkt), by its short name.
#pragma once
#include "pkt/packet_builder.hpp"

namespace xdpd::test {
using namespace xdpd::pkt;
}  // namespace xdpd::test
