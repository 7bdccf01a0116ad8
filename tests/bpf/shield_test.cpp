// Shield stage in the kernel: bans (addresses and prefixes, IPv4 and IPv6,
// with expiry on an injected clock), the allow list's precedence, and the
// firewall still applying to allow-listed sources.
#include <netinet/in.h>

#include <chrono>

#include "shield/lists.hpp"
#include "support/bpf_fixture.hpp"

namespace xdpd::test {
namespace {

using namespace std::chrono_literals;

class Shield : public PipelineFixture {
protected:
    void SetUp() override {
        load();
        runtime_ = pipeline_->map("xdpd_runtime");
        bans_ = pipeline_->map("xdpd_bans");
        allow_ = pipeline_->map("xdpd_allow");
        lists_.emplace(bans_, allow_, runtime_);  // views of this pipeline's maps
        install(fw::RuleSet{});  // firewall on, no rules, default allow
    }
    void set_clock(uint64_t ns) { bpf::RuntimeView(runtime_)->fake_now_ns = ns; }
    uint32_t n_bans() { return bpf::RuntimeView(runtime_)->n_bans; }

    static Bytes from(const char* src, uint16_t dport = 80) {
        std::string s(src);
        auto b = PacketBuilder();
        if (s.find(':') != std::string::npos)
            b.ipv6(s, "2001:db8:ffff::1");
        else
            b.ipv4(s, "192.0.2.1");
        return b.tcp(40000, dport, kSyn).build();
    }

    bpf::MapRef runtime_, bans_, allow_;
    std::optional<shield::Lists> lists_;
};

TEST_F(Shield, BannedAddressIsDroppedWithItsReasonAndCounted) {
    lists_->ban(cidr("10.0.0.1/32"), std::nullopt, "test", XDPD_ORIGIN_API);
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_DROP);
    EXPECT_EQ(verdict(from("10.0.0.2")), XDP_PASS);
    EXPECT_EQ(reason_packets(XDPD_R_BANNED), 1u);
    auto b = lists_->bans();
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].hits, 1u);
    EXPECT_EQ(b[0].reason, "test");
    EXPECT_EQ(b[0].prefix.str(), "10.0.0.1/32");
}

TEST_F(Shield, PrefixBansForBothFamilies) {
    lists_->ban(cidr("10.1.0.0/16"), std::nullopt, "", XDPD_ORIGIN_API);
    lists_->ban(cidr("2001:db8:1::/48"), std::nullopt, "", XDPD_ORIGIN_API);
    EXPECT_EQ(verdict(from("10.1.200.3")), XDP_DROP);
    EXPECT_EQ(verdict(from("10.2.0.1")), XDP_PASS);
    EXPECT_EQ(verdict(from("2001:db8:1:5::9")), XDP_DROP);
    EXPECT_EQ(verdict(from("2001:db8:2::9")), XDP_PASS);
    // An IPv4 ban never matches IPv6 sources that merely share bytes.
    lists_->ban(cidr("0.0.0.0/0"), std::nullopt, "", XDPD_ORIGIN_API);
    EXPECT_EQ(verdict(from("2001:db8:2::9")), XDP_PASS);
    EXPECT_EQ(verdict(from("198.51.100.1")), XDP_DROP);
}

TEST_F(Shield, BansExpireOnTheDataPlanesClock) {
    const uint64_t t0 = 1'000'000'000'000ull;
    set_clock(t0);
    lists_->ban(cidr("10.0.0.1/32"), 10s, "flood", XDPD_ORIGIN_AUTO);
    set_clock(t0 + 9'999'999'999ull);
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_DROP);
    set_clock(t0 + 10'000'000'000ull);
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_PASS) << "expired: no longer enforced, even before removal";
    EXPECT_EQ(n_bans(), 1u);
    auto gone = lists_->expire();
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].hits, 1u);
    EXPECT_EQ(n_bans(), 0u);
    EXPECT_TRUE(lists_->bans().empty());
}

TEST_F(Shield, BansAreCountedByOriginThroughEveryChange) {
    using Counts = std::array<uint64_t, shield::kOrigins>;  // config, api, auto
    const uint64_t t0 = 1'000'000'000'000ull;
    set_clock(t0);
    lists_->ban(cidr("10.0.0.1/32"), std::nullopt, "", XDPD_ORIGIN_CONFIG);
    lists_->ban(cidr("10.0.0.2/32"), std::nullopt, "", XDPD_ORIGIN_API);
    lists_->ban(cidr("10.0.0.3/32"), 5s, "", XDPD_ORIGIN_AUTO);
    lists_->ban(cidr("10.0.0.4/32"), 5s, "", XDPD_ORIGIN_AUTO);
    EXPECT_EQ(lists_->ban_counts(), (Counts{1, 1, 2}));
    lists_->ban(cidr("10.0.0.4/32"), std::nullopt, "", XDPD_ORIGIN_API);  // re-ban moves it
    EXPECT_EQ(lists_->ban_counts(), (Counts{1, 2, 1}));
    EXPECT_TRUE(lists_->unban(cidr("10.0.0.1/32")));
    EXPECT_FALSE(lists_->unban(cidr("10.0.0.1/32")));
    EXPECT_EQ(lists_->ban_counts(), (Counts{0, 2, 1}));
    set_clock(t0 + 6'000'000'000ull);
    EXPECT_EQ(lists_->expire().size(), 1u);
    EXPECT_EQ(lists_->ban_counts(), (Counts{0, 2, 0}));
    // A new view of the same maps (a restarted daemon) counts them again.
    shield::Lists again(bans_, allow_, runtime_);
    EXPECT_EQ(again.ban_counts(), (Counts{0, 2, 0}));
}

TEST_F(Shield, RebanReplacesExpiryAndKeepsHits) {
    set_clock(5'000'000'000ull);
    lists_->ban(cidr("10.0.0.1/32"), 1s, "a", XDPD_ORIGIN_API);
    verdict(from("10.0.0.1"));
    lists_->ban(cidr("10.0.0.1/32"), std::nullopt, "b", XDPD_ORIGIN_API);
    set_clock(50'000'000'000ull);
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_DROP);
    auto b = lists_->bans();
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].hits, 2u);
    EXPECT_EQ(b[0].expires_ns, 0u);
    EXPECT_EQ(b[0].reason, "b");
    EXPECT_EQ(n_bans(), 1u);
}

TEST_F(Shield, AllowListBeatsBansButNotTheFirewall) {
    lists_->ban(cidr("10.0.0.0/8"), std::nullopt, "", XDPD_ORIGIN_API);
    lists_->allow(cidr("10.1.2.3/32"), XDPD_ORIGIN_CONFIG);
    fw::RuleSet rs;
    rs.rules.push_back(rule(fw::Action::deny, fw::Match{.proto = IPPROTO_TCP, .dport = fw::PortRange{22, 22}}));
    install(rs);
    EXPECT_EQ(verdict(from("10.1.2.3", 80)), XDP_PASS);
    EXPECT_EQ(verdict(from("10.1.2.4", 80)), XDP_DROP);
    EXPECT_EQ(verdict(from("10.1.2.3", 22)), XDP_DROP) << "allow-listed, yet the firewall denies port 22";
    EXPECT_EQ(reason_packets(XDPD_R_FW_DENY), 1u);
    EXPECT_EQ(reason_packets(XDPD_R_BANNED), 1u);
    auto a = lists_->allowed();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].hits, 2u);
    EXPECT_TRUE(lists_->disallow(cidr("10.1.2.3/32")));
    EXPECT_EQ(verdict(from("10.1.2.3", 80)), XDP_DROP);
}

TEST_F(Shield, UnbanAndEmptyLists) {
    lists_->ban(cidr("10.0.0.1/32"), std::nullopt, "", XDPD_ORIGIN_API);
    EXPECT_TRUE(lists_->unban(cidr("10.0.0.1/32")));
    EXPECT_FALSE(lists_->unban(cidr("10.0.0.1/32")));
    EXPECT_EQ(n_bans(), 0u);
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_PASS);
}

TEST_F(Shield, SwitchedOffAtLoadItCostsNothingAndDoesNothing) {
    lists_.reset();
    load({.firewall = true, .shield = false});
    shield::Lists lists(pipeline_->map("xdpd_bans"), pipeline_->map("xdpd_allow"), pipeline_->map("xdpd_runtime"));
    lists.ban(cidr("10.0.0.1/32"), std::nullopt, "", XDPD_ORIGIN_API);
    install(fw::RuleSet{});
    EXPECT_EQ(verdict(from("10.0.0.1")), XDP_PASS);
}

TEST(ShieldKeys, LpmKeysRoundTripAndMapIpv4) {
    for (const char* s : {"10.0.0.0/8", "192.0.2.1/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "fe80::1/128"}) {
        auto c = cidr(s);
        EXPECT_EQ(shield::from_lpm_key(shield::lpm_key(c)).str(), c.str()) << s;
    }
    auto k = shield::lpm_key(cidr("10.0.0.0/8"));
    EXPECT_EQ(k.prefixlen, 104u);
    EXPECT_EQ(k.addr[10], 0xff);
    EXPECT_EQ(k.addr[12], 10);
}

}  // namespace
}  // namespace xdpd::test

namespace xdpd::test {
namespace {

TEST_F(Shield, ExpirySweepWaitsForTheEarliestBanAndSeesLaterOnes) {
    const uint64_t t0 = 2'000'000'000'000ull;
    set_clock(t0);
    lists_->ban(cidr("10.0.0.1/32"), std::chrono::seconds(30), "", XDPD_ORIGIN_API);
    lists_->ban(cidr("10.0.0.2/32"), std::chrono::seconds(10), "", XDPD_ORIGIN_API);
    lists_->ban(cidr("10.0.0.3/32"), std::nullopt, "", XDPD_ORIGIN_API);
    set_clock(t0 + 9'000'000'000ull);
    EXPECT_TRUE(lists_->expire().empty());
    set_clock(t0 + 10'000'000'000ull);
    auto gone = lists_->expire();
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].prefix.str(), "10.0.0.2/32");
    set_clock(t0 + 29'000'000'000ull);
    EXPECT_TRUE(lists_->expire().empty());
    set_clock(t0 + 31'000'000'000ull);
    gone = lists_->expire();
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].prefix.str(), "10.0.0.1/32");
    EXPECT_EQ(n_bans(), 1u);  // the permanent one stays
    // A fresh Lists over the same maps (a restarted daemon) finds the earliest expiry itself.
    lists_->ban(cidr("10.0.0.4/32"), std::chrono::seconds(5), "", XDPD_ORIGIN_API);
    shield::Lists again(bans_, allow_, runtime_);
    set_clock(t0 + 37'000'000'000ull);
    gone = again.expire();
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].prefix.str(), "10.0.0.4/32");
}

}  // namespace
}  // namespace xdpd::test
