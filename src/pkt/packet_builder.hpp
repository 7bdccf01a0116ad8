// PacketBuilder: makes frames layer by layer (tests, benchmarks, synthetic
// lookups), with lengths and checksums filled in. Example:
//   auto pkt = PacketBuilder().vlan(10).ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80, kSyn).build();
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpd::pkt {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

class PacketBuilder {
public:
    PacketBuilder& eth(Mac src, Mac dst);
    PacketBuilder& ethertype(uint16_t type);  // raw: e.g. ARP 0x0806, no L3 built
    PacketBuilder& vlan(uint16_t id, uint16_t tpid = 0x8100);

    PacketBuilder& ipv4(const std::string& src, const std::string& dst);
    PacketBuilder& ip_options(Bytes opts);                 // IPv4 options (padded to 4)
    PacketBuilder& fragment(uint16_t offset_bytes, bool more);  // IPv4 or IPv6
    PacketBuilder& ttl(uint8_t ttl);

    PacketBuilder& ipv6(const std::string& src, const std::string& dst);
    // IPv6 extension header (0 hop-by-hop, 43 routing, 60 destination options)
    // of len_units 8-byte units beyond the first 8, filled with a PadN option.
    // Type 44 makes a fragment header (8 bytes, offset 0, M=1) at that place of
    // the chain; fragment() adds one after all ipv6_ext() headers.
    PacketBuilder& ipv6_ext(uint8_t type, uint8_t len_units = 0);

    PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kAck, Bytes options = {});
    PacketBuilder& udp(uint16_t sport, uint16_t dport);
    PacketBuilder& icmp(uint8_t type, uint8_t code = 0);    // ICMP or ICMPv6, after ipv4/ipv6
    PacketBuilder& l4_proto(uint8_t proto);                 // other protocol, no L4 header

    PacketBuilder& payload(size_t n, uint8_t fill = 0xab);
    PacketBuilder& pad_to(size_t frame_len);                // payload grows to reach frame_len

    Bytes build() const;

    // Offsets in the built frame (valid after build()-compatible configuration).
    size_t l3_offset() const;
    size_t l4_offset() const;
    size_t header_len() const;  // l4_offset() + the L4 header (with TCP options)

private:
    Mac src_mac_{0x02, 0, 0, 0, 0, 1}, dst_mac_{0x02, 0, 0, 0, 0, 2};
    std::optional<uint16_t> raw_type_;
    std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, id)
    int family_ = 0;
    std::array<uint8_t, 16> src_{}, dst_{};
    Bytes ip_opts_;
    std::optional<std::pair<uint16_t, bool>> frag_;
    uint8_t ttl_ = 64;
    std::vector<std::pair<uint8_t, uint8_t>> ext_;
    enum class L4 { none, tcp, udp, icmp, raw } l4_ = L4::none;
    uint8_t raw_proto_ = 0;
    uint16_t sport_ = 0, dport_ = 0;
    uint8_t flags_ = 0, icmp_type_ = 0, icmp_code_ = 0;
    Bytes tcp_opts_;
    size_t payload_ = 0;
    size_t pad_to_ = 0;
    uint8_t fill_ = 0xab;

    uint8_t l4_proto_number() const;
    size_t l4_header_len() const;
};

// Internet checksum helpers, written independently of the data plane.
uint16_t inet_checksum(const uint8_t* data, size_t len, uint32_t initial = 0);
// True when the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6 checksum of
// frame verify (IPv6 extension headers are walked; non-first fragments and
// protocols without a known checksum only need consistent lengths).
bool checksums_valid(const Bytes& frame);

}  // namespace xdpd::pkt
