// The rule compiler on its own (no kernel): range splitting, shapes, entries,
// shadowing, count chains, limits, and the shared Bloom hash.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <set>

#include "fw/compiler.hpp"
#include "fw/installer.hpp"

namespace xdpd::fw {
namespace {

Rule make(Action a, Match m, std::string origin = "t.yaml:1") {
    Rule r;
    r.action = a;
    r.match = std::move(m);
    r.origin = std::move(origin);
    return r;
}

Cidr cidr(const char* s) { return *Cidr::parse(s); }

TEST(RangeToPrefixes, CoversEveryRangeExactlyAndMinimally) {
    // Exhaustive over a sample of ranges: every port inside is covered by
    // exactly one prefix, every port outside by none.
    const uint16_t points[] = {0, 1, 2, 3, 7, 8, 80, 1023, 1024, 1025, 4095, 32767, 32768, 65534, 65535};
    for (uint16_t lo : points)
        for (uint16_t hi : points) {
            if (lo > hi) continue;
            auto pfx = range_to_prefixes(lo, hi);
            ASSERT_LE(pfx.size(), 30u) << lo << "-" << hi;
            for (uint32_t p = 0; p <= 65535; p += (p < 2048 || p > 63000) ? 1 : 97) {
                int covering = 0;
                for (auto [v, len] : pfx) {
                    uint16_t mask = len ? uint16_t(0xffff << (16 - len)) : 0;
                    covering += (uint16_t(p) & mask) == v;
                }
                ASSERT_EQ(covering, (p >= lo && p <= hi) ? 1 : 0) << lo << "-" << hi << " port " << p;
            }
        }
    EXPECT_EQ(range_to_prefixes(0, 65535).size(), 1u);
    EXPECT_EQ(range_to_prefixes(1024, 65535).size(), 6u);
    EXPECT_EQ(range_to_prefixes(22, 22), (std::vector<std::pair<uint16_t, int>>{{22, 16}}));
}

TEST(Compiler, RulesOfOneShapeShareATupleWhateverTheirNumber) {
    RuleSet rs;
    for (int i = 0; i < 1000; ++i) {
        Match m;
        m.src = cidr(("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "/32").c_str());
        rs.rules.push_back(make(Action::deny, m));
    }
    auto c = compile(rs);
    EXPECT_EQ(c.tuples.size(), 1u);
    EXPECT_EQ(c.entries.size(), 1000u);
    EXPECT_TRUE(c.warnings.empty());
}

TEST(Compiler, TuplesAreSortedByTheirBestRuleAndCarryPrefilters) {
    RuleSet rs;
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_UDP, .dport = PortRange{53, 53}}));
    rs.rules.push_back(make(Action::deny, Match{.src = cidr("2001:db8::/32")}));
    rs.rules.push_back(make(Action::allow, Match{.proto = IPPROTO_TCP}));
    auto c = compile(rs);
    ASSERT_EQ(c.tuples.size(), 3u);
    for (size_t i = 1; i < c.tuples.size(); ++i) EXPECT_LE(c.tuples[i - 1].min_prio, c.tuples[i].min_prio);
    EXPECT_EQ(c.tuples[0].protos, XDPD_PC_UDP);
    EXPECT_EQ(c.tuples[0].families, XDPD_FAM_V4 | XDPD_FAM_V6);
    EXPECT_EQ(c.tuples[1].families, XDPD_FAM_V6);
    EXPECT_EQ(c.tuples[1].protos, XDPD_PC_ANY);
    // Entries point at tuples by their sorted index.
    for (const auto& e : c.entries) EXPECT_LT(e.key.tuple, c.tuples.size());
}

TEST(Compiler, PortRangeAndIcmpShapes) {
    RuleSet rs;
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{1024, 65535}}));
    auto c = compile(rs);
    EXPECT_EQ(c.entries.size(), 6u);  // six prefixes
    EXPECT_EQ(c.tuples.size(), 6u);   // of six lengths
    for (const auto& e : c.entries) EXPECT_EQ(e.key.flags, 0) << "L4 rules never match non-first fragments";
    for (const auto& t : c.tuples) EXPECT_EQ(t.mask.flags, XDPD_FWK_F_FRAG);

    RuleSet icmp;
    icmp.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_ICMP, .icmp_type = 8, .icmp_code = 0}));
    c = compile(icmp);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].key.sport, 8);
    EXPECT_EQ(c.entries[0].key.dport, 0);
    EXPECT_EQ(c.entries[0].key.family, 4);
    EXPECT_EQ(c.tuples[0].mask.sport, 0xffff);
}

TEST(Compiler, ShadowedRuleIsReportedWithItsOrigin) {
    RuleSet rs;
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "a.yaml:3"));
    rs.rules.push_back(make(Action::allow, Match{.proto = IPPROTO_TCP, .dport = PortRange{22, 22}}, "a.yaml:7"));
    auto c = compile(rs);
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].find("a.yaml:7"), std::string::npos) << c.warnings[0];
    EXPECT_NE(c.warnings[0].find("never reached"), std::string::npos);
    ASSERT_EQ(c.entries.size(), 1u);
    EXPECT_EQ(c.entries[0].value.rule.prio, 0u);
    EXPECT_EQ(c.entries[0].value.action, XDPD_FW_DENY);
}

TEST(Compiler, CountRulesChainAheadOfTheDecidingRule) {
    RuleSet rs;
    rs.rules.push_back(make(Action::count, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(make(Action::count, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(make(Action::count, Match{.proto = IPPROTO_UDP}, "late"));
    auto c = compile(rs, {11, 12, 13, 14});
    ASSERT_EQ(c.entries.size(), 1u);
    const auto& e = c.entries[0].value;
    EXPECT_EQ(e.n_count, 2u);
    EXPECT_EQ(e.count[0].slot, 11u);
    EXPECT_EQ(e.count[1].slot, 12u);
    EXPECT_EQ(e.rule.slot, 13u);
    EXPECT_EQ(e.rule.prio, 2u);
    ASSERT_EQ(c.warnings.size(), 1u);  // the count rule after the deny is never reached
    EXPECT_NE(c.warnings[0].find("late"), std::string::npos);
}

TEST(Compiler, TooManyShapesNamesTheRuleThatBrokeTheLimit) {
    RuleSet rs;
    int n = 0;
    for (int s = 0; s <= 32 && n <= XDPD_FW_MAX_TUPLES; ++s)
        for (int d = 0; d <= 32 && n <= XDPD_FW_MAX_TUPLES; d += 8, ++n) {
            Match m;
            m.src = cidr(("0.0.0.0/" + std::to_string(s)).c_str());
            m.dst = cidr(("0.0.0.0/" + std::to_string(d)).c_str());
            rs.rules.push_back(make(Action::deny, m, "big.yaml:" + std::to_string(n + 1)));
        }
    try {
        compile(rs);
        FAIL() << "compiled " << rs.rules.size() << " shapes";
    } catch (const CompileError& e) {
        EXPECT_NE(std::string(e.what()).find("big.yaml:" + std::to_string(XDPD_FW_MAX_TUPLES + 1) + ":"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Compiler, FingerprintsAreStableAndDistinguishRepeats) {
    RuleSet rs;
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_UDP}));
    rs.rules.push_back(make(Action::deny, Match{.proto = IPPROTO_UDP}));
    Rule named = make(Action::allow, Match{.proto = IPPROTO_TCP});
    named.id = "web";
    rs.rules.push_back(named);
    auto fp = Installer::fingerprints(rs);
    ASSERT_EQ(fp.size(), 3u);
    EXPECT_NE(fp[0], fp[1]);
    EXPECT_EQ(fp[2], "id:web");
    rs.rules[2].match.proto = IPPROTO_UDP;  // an edited rule with an id keeps its identity
    EXPECT_EQ(Installer::fingerprints(rs)[2], "id:web");
}

TEST(BloomHash, DependsOnEveryWordAndSpreadsBits) {
    xdpd_fw_key k{};
    const auto* w = reinterpret_cast<const __u32*>(&k);
    const __u64 base = xdpd_fw_bloom_hash(w);
    for (size_t i = 0; i < sizeof k / 4; ++i) {
        xdpd_fw_key m = k;
        reinterpret_cast<__u32*>(&m)[i] ^= 1;
        EXPECT_NE(xdpd_fw_bloom_hash(reinterpret_cast<const __u32*>(&m)), base) << "word " << i;
    }
    // 20,000 distinct /32 keys land on nearly as many distinct filter bits.
    std::set<std::pair<__u32, __u64>> bits;
    for (__u32 a = 0; a < 20000; ++a) {
        xdpd_fw_key key{};
        key.src[0] = htonl(0x0a000000 + a);
        key.family = 4;
        __u64 h = xdpd_fw_bloom_hash(reinterpret_cast<const __u32*>(&key));
        bits.insert({XDPD_FW_BLOOM_WORD(0, h), XDPD_FW_BLOOM_BIT(h)});
    }
    EXPECT_GT(bits.size(), 19900u);
}

}  // namespace
}  // namespace xdpd::fw
