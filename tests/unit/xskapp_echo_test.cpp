// The echo app's packet transform (src/xskapp/echo.cpp): answers are the
// request with MACs, addresses and ports swapped and valid checksums; only
// UDP to the port is answered.
#include <gtest/gtest.h>

#include "pkt/packet_builder.hpp"
#include "xskapp/echo.hpp"

namespace xdpd::xskapp {
namespace {

using pkt::Bytes;
using pkt::PacketBuilder;

const pkt::Mac kA{2, 0, 0, 0, 0, 0xa}, kB{2, 0, 0, 0, 0, 0xb};

Verdict echo(Bytes& f, uint16_t port = 5000) { return udp_echo_in_place(f.data(), uint32_t(f.size()), port); }

TEST(XskAppEcho, Ipv4AnswerIsTheSwappedRequestWithValidChecksums) {
    Bytes req = PacketBuilder().eth(kA, kB).ipv4("10.0.0.1", "10.0.0.2").ttl(7).udp(40000, 5000).payload(33).build();
    Bytes f = req;
    ASSERT_EQ(echo(f), Verdict::tx);
    Bytes want = PacketBuilder().eth(kB, kA).ipv4("10.0.0.2", "10.0.0.1").ttl(64).udp(5000, 40000).payload(33).build();
    // Same bytes but the IP id (copied from the request; the builder uses one for both).
    EXPECT_EQ(f, want);
    EXPECT_TRUE(pkt::checksums_valid(f));
}

TEST(XskAppEcho, Ipv6AndVlan) {
    Bytes f = PacketBuilder().eth(kA, kB).vlan(10).ipv6("fd00::1", "fd00::2").udp(1234, 7).payload(100).build();
    ASSERT_EQ(echo(f, 7), Verdict::tx);
    Bytes want = PacketBuilder().eth(kB, kA).vlan(10).ipv6("fd00::2", "fd00::1").ttl(64).udp(7, 1234).payload(100).build();
    EXPECT_EQ(f, want);
    EXPECT_TRUE(pkt::checksums_valid(f));
}

TEST(XskAppEcho, OnlyUdpToThePort) {
    Bytes other_port = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 5001).payload(4).build();
    Bytes tcp = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 5000).build();
    Bytes frag = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").fragment(0, true).udp(1, 5000).payload(8).build();
    Bytes arp = PacketBuilder().ethertype(0x0806).payload(28).build();
    for (Bytes* f : {&other_port, &tcp, &frag, &arp}) {
        Bytes before = *f;
        EXPECT_EQ(echo(*f), Verdict::not_for_me);
        EXPECT_EQ(*f, before) << "a packet not answered must stay as it was";
    }
    Bytes truncated = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 5000).payload(40).build();
    truncated.resize(truncated.size() - 10);
    EXPECT_EQ(echo(truncated), Verdict::not_for_me);
}

}  // namespace
}  // namespace xdpd::xskapp
