// PacketBuilder self-test: the frames the kernel tests feed the data plane
// must be what they claim to be (layout, lengths, offsets, checksums), checked
// here byte by byte, independently of the data plane.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "support/packet_builder.hpp"

namespace xdpd::test {
namespace {

uint16_t be16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }
uint32_t be32(const Bytes& b, size_t off) { return uint32_t(be16(b, off)) << 16 | be16(b, off + 2); }

TEST(PacketBuilder, ChecksumKnownVector) {
    // The IPv4 header of the classic example (checksum 0xb861).
    const uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                           0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(inet_checksum(hdr, sizeof hdr), 0xb861);
    uint8_t with[sizeof hdr];
    std::copy(std::begin(hdr), std::end(hdr), with);
    with[10] = 0xb8;
    with[11] = 0x61;
    EXPECT_EQ(inet_checksum(with, sizeof with), 0);
    const uint8_t odd[] = {0x01, 0x02, 0x03};  // odd length: last byte padded with 0
    EXPECT_EQ(inet_checksum(odd, sizeof odd), uint16_t(~(0x0102 + 0x0300)));
}

TEST(PacketBuilder, EthernetAndRawEthertype) {
    PacketBuilder pb;
    pb.eth({1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}).ethertype(0x0806).payload(28, 0x5a);
    Bytes b = pb.build();
    ASSERT_EQ(b.size(), 14u + 28u);
    EXPECT_EQ(Bytes(b.begin(), b.begin() + 6), (Bytes{7, 8, 9, 10, 11, 12}));  // dst first
    EXPECT_EQ(Bytes(b.begin() + 6, b.begin() + 12), (Bytes{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(be16(b, 12), 0x0806);
    EXPECT_EQ(b[14], 0x5a);
    EXPECT_EQ(b.back(), 0x5a);
    EXPECT_EQ(PacketBuilder().ethertype(0x88cc).build().size(), 14u);
    EXPECT_EQ(PacketBuilder().ethertype(0x88cc).pad_to(60).build().size(), 60u);
}

TEST(PacketBuilder, VlanLayoutOuterFirst) {
    PacketBuilder pb;
    pb.vlan(100, 0x88a8).vlan(200).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2);
    Bytes b = pb.build();
    EXPECT_EQ(be16(b, 12), 0x88a8);  // outer TPID in the Ethernet type field
    EXPECT_EQ(be16(b, 14), 100);     // outer TCI
    EXPECT_EQ(be16(b, 16), 0x8100);  // inner TPID
    EXPECT_EQ(be16(b, 18), 200);     // inner TCI
    EXPECT_EQ(be16(b, 20), 0x0800);  // the real ethertype after the last tag
    EXPECT_EQ(pb.l3_offset(), 22u);
    EXPECT_EQ(b[22] >> 4, 4);
    EXPECT_TRUE(checksums_valid(b));
}

TEST(PacketBuilder, Ipv4TcpLayoutAndChecksums) {
    PacketBuilder pb;
    pb.ipv4("192.0.2.1", "198.51.100.7").ttl(17).ip_options({0x01, 0x01, 0x01})
        .tcp(40000, 443, kSyn | kAck, {2, 4, 0x05, 0xb4, 1, 3, 3, 7})
        .payload(5, 0xcc);
    Bytes b = pb.build();
    const size_t l3 = 14, l4 = l3 + 24;
    EXPECT_EQ(pb.l3_offset(), l3);
    EXPECT_EQ(pb.l4_offset(), l4);
    EXPECT_EQ(pb.header_len(), l4 + 28);
    ASSERT_EQ(b.size(), l4 + 28 + 5);
    EXPECT_EQ(be16(b, 12), 0x0800);
    EXPECT_EQ(b[l3], 0x46);                        // version 4, IHL 6 (options padded to 4)
    EXPECT_EQ(b[l3 + 20], 1);
    EXPECT_EQ(b[l3 + 23], 0);                      // EOL padding
    EXPECT_EQ(be16(b, l3 + 2), b.size() - l3);     // total length
    EXPECT_EQ(be16(b, l3 + 6), 0);                 // not a fragment
    EXPECT_EQ(b[l3 + 8], 17);
    EXPECT_EQ(b[l3 + 9], IPPROTO_TCP);
    EXPECT_EQ(be32(b, l3 + 12), 0xc0000201u);
    EXPECT_EQ(be32(b, l3 + 16), 0xc6336407u);
    EXPECT_EQ(inet_checksum(&b[l3], 24), 0);
    EXPECT_EQ(be16(b, l4), 40000);
    EXPECT_EQ(be16(b, l4 + 2), 443);
    EXPECT_EQ(b[l4 + 12] >> 4, 7);                 // data offset: 20 + 8 option bytes
    EXPECT_EQ(b[l4 + 13], kSyn | kAck);
    EXPECT_EQ(b[l4 + 20], 2);                      // MSS option first
    EXPECT_EQ(b[l4 + 28], 0xcc);
    EXPECT_TRUE(checksums_valid(b));

    Bytes bad = b;
    bad.back() ^= 1;                               // payload bit: L4 checksum breaks
    EXPECT_FALSE(checksums_valid(bad));
    bad = b;
    bad[l3 + 8] ^= 1;                              // TTL: header checksum breaks
    EXPECT_FALSE(checksums_valid(bad));
}

TEST(PacketBuilder, TcpOptionsPaddedWithNop) {
    PacketBuilder pb;
    pb.ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, kSyn, {2, 4, 5, 0xb4, 4});
    Bytes b = pb.build();
    const size_t l4 = pb.l4_offset();
    EXPECT_EQ(b[l4 + 12] >> 4, 7);
    EXPECT_EQ(b[l4 + 25], 1);
    EXPECT_EQ(b[l4 + 27], 1);
    EXPECT_TRUE(checksums_valid(b));
}

TEST(PacketBuilder, UdpAndIcmp) {
    PacketBuilder u;
    u.ipv4("10.0.0.1", "10.0.0.2").udp(53, 5353).payload(11);
    Bytes b = u.build();
    const size_t l4 = u.l4_offset();
    EXPECT_EQ(l4, 34u);
    EXPECT_EQ(be16(b, l4 + 4), 8 + 11);            // UDP length
    EXPECT_NE(be16(b, l4 + 6), 0);                 // checksum present
    EXPECT_TRUE(checksums_valid(b));

    PacketBuilder i4;
    i4.ipv4("10.0.0.1", "10.0.0.2").icmp(8, 3).payload(3);
    b = i4.build();
    EXPECT_EQ(b[14 + 9], IPPROTO_ICMP);
    EXPECT_EQ(b[34], 8);
    EXPECT_EQ(b[35], 3);
    EXPECT_TRUE(checksums_valid(b));               // ICMP: no pseudo header

    PacketBuilder i6;
    i6.ipv6("2001:db8::1", "2001:db8::2").icmp(128, 0).payload(4);
    b = i6.build();
    EXPECT_EQ(b[14 + 6], IPPROTO_ICMPV6);
    EXPECT_EQ(b[54], 128);
    EXPECT_TRUE(checksums_valid(b));               // ICMPv6: with pseudo header
    b[54 + 8] ^= 0xff;
    EXPECT_FALSE(checksums_valid(b));
}

TEST(PacketBuilder, Ipv6ExtensionChainAndFragment) {
    PacketBuilder pb;
    pb.ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0).ipv6_ext(43, 2).ipv6_ext(60, 1)
        .fragment(0, true).udp(7, 9).payload(10);
    Bytes b = pb.build();
    const size_t l3 = 14;
    EXPECT_EQ(be16(b, 12), 0x86dd);
    EXPECT_EQ(b[l3] >> 4, 6);
    EXPECT_EQ(be16(b, l3 + 4), b.size() - l3 - 40);  // payload length
    EXPECT_EQ(b[l3 + 6], 0);                          // -> hop-by-hop
    size_t off = l3 + 40;
    EXPECT_EQ(b[off], 43);  EXPECT_EQ(b[off + 1], 0);  off += 8;
    EXPECT_EQ(b[off], 60);  EXPECT_EQ(b[off + 1], 2);  off += 24;
    EXPECT_EQ(b[off], 44);  EXPECT_EQ(b[off + 1], 1);  off += 16;
    EXPECT_EQ(b[off], IPPROTO_UDP);                   // fragment header
    EXPECT_EQ(be16(b, off + 2), 0x0001);              // offset 0, M=1
    off += 8;
    EXPECT_EQ(pb.l4_offset(), off);
    EXPECT_EQ(be16(b, off), 7);
    EXPECT_EQ(be16(b, off + 4), 8 + 10);
    EXPECT_EQ(pb.header_len(), off + 8);
    EXPECT_TRUE(checksums_valid(b));

    // Non-first fragment: offset in 8-byte units in the top 13 bits.
    PacketBuilder nf;
    nf.ipv6("2001:db8::1", "2001:db8::2").fragment(1448, false).tcp(1, 2);
    b = nf.build();
    EXPECT_EQ(b[l3 + 6], 44);
    EXPECT_EQ(be16(b, l3 + 40 + 2), 1448);
    EXPECT_TRUE(checksums_valid(b));

    // ipv6_ext(44): a fragment header in the middle of the chain.
    PacketBuilder mid;
    mid.ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0).ipv6_ext(44).ipv6_ext(60).udp(1, 2);
    b = mid.build();
    EXPECT_EQ(b[l3 + 40], 44);
    EXPECT_EQ(b[l3 + 48], 60);
    EXPECT_EQ(be16(b, l3 + 48 + 2), 0x0001);
    EXPECT_EQ(mid.l4_offset(), l3 + 40 + 24);
    EXPECT_TRUE(checksums_valid(b));
}

TEST(PacketBuilder, Ipv4Fragments) {
    Bytes first = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").fragment(0, true).tcp(1, 2).build();
    EXPECT_EQ(be16(first, 14 + 6), 0x2000);  // MF, offset 0
    EXPECT_TRUE(checksums_valid(first));
    Bytes later = PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").fragment(1480, false).udp(1, 2).build();
    EXPECT_EQ(be16(later, 14 + 6), 1480 / 8);
    EXPECT_TRUE(checksums_valid(later));
}

TEST(PacketBuilder, PadToGrowsPayloadAndKeepsLengthsRight) {
    PacketBuilder pb;
    pb.vlan(5).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).pad_to(128);
    Bytes b = pb.build();
    ASSERT_EQ(b.size(), 128u);
    EXPECT_EQ(be16(b, 18 + 2), 128 - 18);
    EXPECT_EQ(be16(b, 38 + 4), 128 - 38);
    EXPECT_TRUE(checksums_valid(b));
}

TEST(PacketBuilder, OtherProtocolHasNoL4Header) {
    PacketBuilder pb;
    pb.ipv4("10.0.0.1", "10.0.0.2").l4_proto(47).payload(4);
    Bytes b = pb.build();
    EXPECT_EQ(b[14 + 9], 47);
    EXPECT_EQ(pb.header_len(), 34u);
    EXPECT_EQ(b.size(), 38u);
    EXPECT_TRUE(checksums_valid(b));
}

}  // namespace
}  // namespace xdpd::test
