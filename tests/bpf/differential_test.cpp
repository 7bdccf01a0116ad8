// Differential test, in the kernel: thousands of random rules and random
// packets; for every packet the BPF verdict and reason must equal what the
// reference classifier (tests/support/reference_classifier) decides, and at
// the end of each round every rule's hit counter must equal the reference's
// count.
//
// Seeded: the default seed is fixed; XDPD_DIFF_SEED=<n> replays another one
// (every failure message names the seed in use). XDPD_DIFF_ROUNDS,
// XDPD_DIFF_RULES and XDPD_DIFF_PACKETS scale the run.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "support/bpf_fixture.hpp"
#include "support/reference_classifier.hpp"

namespace xdpd::test {
namespace {

using fw::Action;
using fw::Match;
using fw::PortRange;

constexpr uint64_t kDefaultSeed = 0x00d1ff5eedull;

uint64_t env_u64(const char* name, uint64_t dflt) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 0) : dflt;
}

using u128 = unsigned __int128;
u128 to128(const std::array<uint8_t, 16>& a) {
    u128 v = 0;
    for (uint8_t b : a) v = v << 8 | b;
    return v;
}
std::array<uint8_t, 16> from128(u128 v) {
    std::array<uint8_t, 16> a{};
    for (int i = 15; i >= 0; --i, v >>= 8) a[i] = uint8_t(v);
    return a;
}

// Random rules and packets. Addresses, ports, VLANs come from small pools so
// that rules overlap and packets hit them; the match shapes come from a
// palette, and a rule that would take the rule set past the shape budget is
// drawn again.
class Generator {
public:
    Generator(uint64_t seed, __u32 dev_ifindex) : rng_(seed), dev_(dev_ifindex) {
        for (int i = 0; i < 10; ++i) v4_pool_.push_back(uint32_t(rng_()));
        v4_pool_.push_back(0x0a000000);  // 10.0.0.0
        v4_pool_.push_back(0xc0a80100);  // 192.168.1.0
        for (int i = 0; i < 8; ++i) v6_pool_.push_back(u128(rng_()) << 64 | rng_());
        v6_pool_.push_back(u128(0x20010db8) << 96);
    }

    uint64_t u(uint64_t n) { return rng_() % n; }
    bool chance(int percent) { return int(u(100)) < percent; }
    template <typename T>
    const T& pick(const std::vector<T>& v) { return v[u(v.size())]; }

    // ---- rules -----------------------------------------------------------

    template <size_t N>
    int weighted(const std::array<std::pair<int, int>, N>& choices) {  // (value, weight)
        int total = 0;
        for (auto [v, w] : choices) total += w;
        int x = int(u(uint64_t(total)));
        for (auto [v, w] : choices)
            if ((x -= w) < 0) return v;
        return choices[0].first;
    }

    // A prefix near a pool address: the pool makes rules nest and overlap, the
    // last few prefix bits drawn at random keep them distinct.
    fw::Cidr v4_cidr() {
        static const std::array<std::pair<int, int>, 9> lens = {
            {{0, 1}, {8, 3}, {13, 4}, {16, 8}, {20, 8}, {24, 15}, {27, 8}, {31, 5}, {32, 15}}};
        fw::Cidr c;
        c.family = 4;
        c.prefix = weighted(lens);
        uint32_t vary = c.prefix >= 26 ? ~0u : (1u << (32 - c.prefix + 6)) - 1;
        uint32_t a = pick(v4_pool_) ^ (uint32_t(rng_()) & vary);
        a &= c.prefix ? ~0u << (32 - c.prefix) : 0;
        for (int i = 0; i < 4; ++i) c.addr[i] = uint8_t(a >> (24 - 8 * i));
        return c;
    }
    fw::Cidr v6_cidr() {
        static const std::array<std::pair<int, int>, 8> lens = {
            {{0, 1}, {32, 4}, {48, 10}, {56, 8}, {64, 15}, {100, 6}, {127, 6}, {128, 15}}};
        fw::Cidr c;
        c.family = 6;
        c.prefix = weighted(lens);
        u128 vary = c.prefix >= 122 ? ~u128(0) : (u128(1) << (128 - c.prefix + 6)) - 1;
        u128 a = pick(v6_pool_) ^ ((u128(rng_()) << 64 | rng_()) & vary);
        c.addr = from128(a & (c.prefix ? ~u128(0) << (128 - c.prefix) : 0));
        return c;
    }
    PortRange ports() {
        static const std::vector<uint16_t> common = {0, 22, 53, 80, 123, 443, 1023, 1024, 8080, 65535};
        uint16_t lo = u(2) ? pick(common) : uint16_t(rng_());
        switch (u(6)) {
        case 0:
        case 1: return {lo, lo};
        case 2: return {lo, uint16_t(std::min<int>(65535, lo + int(u(16))))};
        case 3: return {lo, uint16_t(std::min<int>(65535, lo + int(u(3000))))};
        case 4: return {uint16_t(lo & 0xff00), uint16_t(lo | 0x00ff)};  // one prefix
        default: {
            uint16_t hi = uint16_t(rng_());
            return lo <= hi ? PortRange{lo, hi} : PortRange{hi, lo};
        }
        }
    }
    fw::TcpFlags flags() {
        static const char* specs[] = {"syn,!ack", "syn", "ack", "rst", "fin|psh|!rst", "!syn", "syn,ack",
                                      "!ack", "urg", "ece,cwr"};
        return *fw::TcpFlags::parse(specs[u(std::size(specs))]);
    }
    uint16_t vlan() {
        static const std::vector<uint16_t> ids = {0, 1, 10, 20, 100, 4095};
        return pick(ids);
    }
    __u32 ifindex() { return u(2) ? 1 : dev_; }

    // One rule from the palette. Count rules are kept narrow (few overlap);
    // the broad templates are rare.
    fw::Rule rule(int index) {
        fw::Rule r;
        r.id = "r" + std::to_string(index);
        r.origin = "generated";
        int a = int(u(100));
        r.action = a < 5 ? Action::count : a < 52 ? Action::allow : Action::deny;
        Match& m = r.match;
        static const std::array<std::pair<int, int>, 17> palette = {
            {{0, 10}, {1, 10}, {2, 8}, {3, 10}, {4, 6}, {5, 6}, {6, 6}, {7, 5}, {8, 5}, {9, 5},
             {10, 6}, {11, 6}, {12, 5}, {13, 5}, {14, 5}, {15, 4}, {16, 3}}};
        int t = weighted(palette);
        if (r.action == Action::count && (t == 16 || t == 8 || t == 9)) t = 0;
        switch (t) {
        case 0: m.src = v4_cidr(); if (u(2)) m.proto = IPPROTO_UDP, m.dport = ports(); break;
        case 1: m.dst = v4_cidr(); m.proto = IPPROTO_TCP; if (u(2)) m.dport = ports(); break;
        case 2: m.src = v6_cidr(); m.dst = v6_cidr(); break;
        case 3: m.dst = v4_cidr(); m.proto = IPPROTO_TCP; m.dport = ports(); break;
        case 4:
            if (u(2)) m.dst = v4_cidr(); else m.dst = v6_cidr();
            m.proto = u(2) ? IPPROTO_TCP : IPPROTO_UDP;
            m.sport = ports();
            m.dport = ports();
            break;
        case 5: m.proto = IPPROTO_TCP; m.tcp_flags = flags(); m.dport = ports(); m.src = v4_cidr(); break;
        case 6:
            m.proto = IPPROTO_ICMP;
            m.icmp_type = uint8_t(u(2) ? u(16) : rng_());
            if (u(2)) m.icmp_code = uint8_t(u(4));
            if (u(2)) m.src = v4_cidr();
            break;
        case 7:
            m.proto = IPPROTO_ICMPV6;
            m.icmp_type = uint8_t(128 + u(8));
            if (u(3) == 0) m.icmp_code = uint8_t(u(2));
            m.src = v6_cidr();
            break;
        case 8: m.vlan = vlan(); if (u(2)) m.proto = IPPROTO_UDP; else m.src = v4_cidr(); break;
        case 9: m.ifindex = ifindex(); if (u(2)) m.src = v4_cidr(); else m.dst = v6_cidr(); break;
        case 10: m.src = v6_cidr(); break;
        case 11: m.dst = v6_cidr(); m.proto = IPPROTO_UDP; m.sport = ports(); break;
        case 12: m.src = v6_cidr(); m.proto = IPPROTO_TCP; m.dport = ports(); m.tcp_flags = flags(); break;
        case 13: m.src = v4_cidr(); m.dst = v4_cidr(); m.proto = IPPROTO_UDP; m.vlan = vlan(); break;
        case 14: m.dst = v4_cidr(); m.ifindex = ifindex(); m.proto = IPPROTO_TCP; m.sport = ports(); break;
        case 15: m.family = 4; m.proto = IPPROTO_ICMP; m.icmp_code = uint8_t(u(3)); m.vlan = vlan(); break;
        default:  // broad: a field or two on their own
            switch (u(7)) {
            case 0: m.family = u(2) ? 4 : 6; if (u(2)) m.proto = u(2) ? IPPROTO_TCP : 47; break;
            case 1: m.proto = uint8_t(u(2) ? 47 : u(2) ? IPPROTO_UDP : IPPROTO_TCP); break;
            case 2: m.tcp_flags = flags(); break;  // no proto: non-TCP packets have flags 0
            case 3: m.dport = ports(); break;      // no proto: an ICMP code sits in dport
            case 4: m.vlan = vlan(); break;
            case 5: m.ifindex = ifindex(); break;
            default: m.sport = ports(); m.family = 6; break;
            }
            break;
        }
        return r;
    }

    // ---- packets ---------------------------------------------------------

    std::array<uint8_t, 16> addr_in(const fw::Cidr& c) {
        if (c.family == 4) {
            uint32_t a = uint32_t(c.addr[0]) << 24 | c.addr[1] << 16 | c.addr[2] << 8 | c.addr[3];
            uint32_t host = c.prefix == 32 ? 0 : ~0u >> c.prefix;
            uint32_t h = uint32_t(rng_());
            if (u(4) == 0) h = u(2) ? 0 : ~0u;  // the edges of the prefix
            std::array<uint8_t, 16> out{};
            a |= h & host;
            for (int i = 0; i < 4; ++i) out[i] = uint8_t(a >> (24 - 8 * i));
            return out;
        }
        u128 host = c.prefix == 128 ? 0 : ~u128(0) >> c.prefix;
        u128 h = u128(rng_()) << 64 | rng_();
        if (u(4) == 0) h = u(2) ? 0 : ~u128(0);
        return from128(to128(c.addr) | (h & host));
    }
    std::array<uint8_t, 16> addr(int family) {
        if (family == 4) {
            fw::Cidr c;
            c.family = 4;
            c.prefix = u(3) ? 24 : 0;
            uint32_t a = pick(v4_pool_) & (c.prefix ? 0xffffff00u : 0);
            for (int i = 0; i < 4; ++i) c.addr[i] = uint8_t(a >> (24 - 8 * i));
            return addr_in(c);
        }
        fw::Cidr c;
        c.family = 6;
        c.prefix = u(3) ? 64 : 0;
        c.addr = from128(pick(v6_pool_) & (c.prefix ? ~u128(0) << 64 : 0));
        return addr_in(c);
    }
    uint16_t port_in(const PortRange& r) {
        switch (u(6)) {
        case 0: return r.lo;
        case 1: return r.hi;
        case 2: return uint16_t(r.lo - 1);  // just outside (or wrapped: still a port)
        case 3: return uint16_t(r.hi + 1);
        default: return uint16_t(r.lo + u(uint64_t(r.hi - r.lo) + 1));
        }
    }
    uint16_t port() {
        static const std::vector<uint16_t> common = {0, 22, 53, 80, 443, 1024, 8080, 65535};
        return u(2) ? pick(common) : uint16_t(rng_());
    }
    uint8_t proto(int family) {
        static const std::vector<uint8_t> p4 = {IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, 47, 132};
        static const std::vector<uint8_t> p6 = {IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, 47, 59};
        return pick(family == 4 ? p4 : p6);
    }
    bool proto_ok(int family, uint8_t p) {
        if (family == 4) return p != IPPROTO_ICMPV6;
        return p != IPPROTO_ICMP && p != 0 && p != 43 && p != 44 && p != 60;
    }

    // A packet aimed at rule r (most fields from it), or a random one. Raw:
    // normalized() gives what the data plane sees of it.
    PacketFields packet(const fw::Rule* r) {
        PacketFields p;
        const Match* m = r ? &r->match : nullptr;
        auto fam = m ? m->implied_family() : std::nullopt;
        p.family = fam ? *fam : (u(2) ? 4 : 6);
        p.src = m && m->src && m->src->family == p.family ? addr_in(*m->src) : addr(p.family);
        p.dst = m && m->dst && m->dst->family == p.family ? addr_in(*m->dst) : addr(p.family);
        p.proto = m && m->proto && proto_ok(p.family, *m->proto) ? *m->proto : proto(p.family);
        if (m && (m->tcp_flags || m->sport || m->dport) && !m->proto && u(2)) p.proto = IPPROTO_TCP;
        const bool icmp = p.proto == (p.family == 4 ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
        if (icmp) {
            p.sport = m && m->icmp_type ? *m->icmp_type : uint16_t(u(2) ? u(16) : u(256));
            p.dport = m && m->icmp_code ? *m->icmp_code : uint16_t(u(4));
            if (m && m->sport) p.sport = port_in(*m->sport) & 0xff;
            if (m && m->dport) p.dport = port_in(*m->dport) & 0xff;
        } else {
            p.sport = m && m->sport ? port_in(*m->sport) : port();
            p.dport = m && m->dport ? port_in(*m->dport) : port();
        }
        if (p.proto == IPPROTO_TCP) {
            p.tcp_flags = uint8_t(rng_());
            if (m && m->tcp_flags && u(4)) p.tcp_flags = uint8_t((p.tcp_flags & ~m->tcp_flags->mask) | m->tcp_flags->value);
        }
        p.vlan = m && m->vlan ? *m->vlan : (u(3) ? 0 : vlan());
        if (p.vlan && u(4) == 0) p.vlan |= uint16_t(u(16) << 12);  // PCP/DEI bits
        p.ifindex = m && m->ifindex ? *m->ifindex : ifindex();
        p.fragment = u(12) == 0;
        // A near miss: one field changed at random.
        if (u(4) == 0) {
            switch (u(8)) {
            case 0: p.src[u(p.family == 4 ? 4 : 16)] ^= uint8_t(1u << u(8)); break;
            case 1: p.dst[u(p.family == 4 ? 4 : 16)] ^= uint8_t(1u << u(8)); break;
            case 2: p.sport ^= uint16_t(1u << u(16)); break;
            case 3: p.dport ^= uint16_t(1u << u(16)); break;
            case 4: p.tcp_flags ^= uint8_t(1u << u(8)); break;
            case 5: p.vlan = vlan(); break;
            case 6: p.ifindex = ifindex(); break;
            default: p.fragment = !p.fragment; break;
            }
        }
        return p;  // raw: a fragment's frame carries these ports in its payload
    }

    std::mt19937_64& rng() { return rng_; }

private:
    std::mt19937_64 rng_;
    __u32 dev_;
    std::vector<uint32_t> v4_pool_;
    std::vector<u128> v6_pool_;
};

std::string key_of(const xdpd_fw_key& k) { return std::string(reinterpret_cast<const char*>(&k), sizeof k); }

// The masks (shapes) a rule compiles to; nullopt when it alone needs more than
// XDPD_FW_MAX_TUPLES (a wide sport range times a wide dport range).
std::optional<std::set<std::string>> shapes_of(const fw::Rule& r) {
    fw::RuleSet one;
    one.rules.push_back(r);
    std::set<std::string> out;
    try {
        for (const auto& t : fw::compile(one).tuples) out.insert(key_of(t.mask));
    } catch (const fw::CompileError&) {
        return std::nullopt;
    }
    return out;
}

fw::RuleSet random_rule_set(Generator& g, size_t n, size_t shape_budget, size_t* shapes_used) {
    fw::RuleSet rs;
    std::set<std::string> shapes;
    // A rule matching most packets would leave nothing for the default policy
    // and the rules behind it: a quarter of random packets is the limit.
    std::vector<PacketFields> random_pkts;
    for (int i = 0; i < 200; ++i) random_pkts.push_back(normalized(g.packet(nullptr)));
    while (rs.rules.size() < n) {
        fw::Rule r = g.rule(int(rs.rules.size()));
        int hits = 0;
        for (const auto& p : random_pkts) hits += matches(r.match, p);
        if (hits > 50) continue;
        auto s = shapes_of(r);
        if (!s) continue;
        std::set<std::string> merged = shapes;
        merged.insert(s->begin(), s->end());
        if (merged.size() > shape_budget) continue;  // draw again
        shapes = std::move(merged);
        rs.rules.push_back(std::move(r));
    }
    *shapes_used = shapes.size();
    // Broad rules (that match many of a sample of packets) go to the tail, in
    // random order, so they do not shadow everything behind them.
    std::vector<PacketFields> sample;
    for (int i = 0; i < 400; ++i)
        sample.push_back(normalized(g.packet(g.u(2) ? &rs.rules[g.u(rs.rules.size())] : nullptr)));
    std::vector<fw::Rule> narrow, broad;
    for (auto& r : rs.rules) {
        int hits = 0;
        for (const auto& p : sample) hits += matches(r.match, p);
        (hits > 8 ? broad : narrow).push_back(std::move(r));
    }
    rs.rules = std::move(narrow);
    for (auto& r : broad) {
        size_t tail = rs.rules.size() - rs.rules.size() / 10;
        rs.rules.insert(rs.rules.begin() + long(tail + g.u(rs.rules.size() - tail + 1)), std::move(r));
    }
    return rs;
}

class Differential : public PipelineFixture {
protected:
    void SetUp() override {
        load();
        dev_ = std::make_unique<TestNetdev>();
    }
    void TearDown() override { dev_.reset(); }

    // Which allow/deny rule the data plane credited with pkt (-1: none), by
    // diffing every rule counter around one more run. For failure reports.
    int dp_rule_of(const fw::RuleSet& rs, const Bytes& frame, __u32 ifindex) {
        auto before = installer().counters();
        verdict(frame, ifindex);
        auto after = installer().counters();
        for (size_t i = 0; i < rs.rules.size(); ++i)
            if (rs.rules[i].action != Action::count && after[i].total.packets != before[i].total.packets)
                return int(i);
        return -1;
    }

    std::unique_ptr<TestNetdev> dev_;
};

TEST_F(Differential, RandomRulesRandomPacketsMatchTheReference) {
    const uint64_t seed = env_u64("XDPD_DIFF_SEED", kDefaultSeed);
    const size_t rounds = env_u64("XDPD_DIFF_ROUNDS", 6);
    const size_t n_rules = env_u64("XDPD_DIFF_RULES", 2000);
    const size_t n_packets = env_u64("XDPD_DIFF_PACKETS", 10000);
    const std::string replay = "seed " + std::to_string(seed) + " (replay: XDPD_DIFF_SEED=" +
                               std::to_string(seed) + ")";
    SCOPED_TRACE(replay);
    std::cout << "[ differential ] " << replay << ", " << rounds << " rounds x " << n_rules
              << " rules (the last x3) x " << n_packets << " packets\n";
    const auto t0 = std::chrono::steady_clock::now();

    Generator g(seed, dev_->ifindex());
    size_t total_packets = 0, mismatches = 0, over_chain = 0;
    std::map<int, size_t> reasons_seen;
    for (size_t round = 0; round < rounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        size_t shapes = 0;
        // Keep a margin under XDPD_FW_MAX_TUPLES: the budget itself is tested
        // in firewall_fields_test.
        // The last round is larger: more entries per tuple, deeper overlaps.
        const size_t n = round + 1 == rounds ? 3 * n_rules : n_rules;
        fw::RuleSet rs = random_rule_set(g, n, XDPD_FW_MAX_TUPLES - 8, &shapes);
        for (auto& r : rs.rules) r.id = "round" + std::to_string(round) + "-" + r.id;  // fresh counters
        rs.default_action = round % 2 ? Action::deny : Action::allow;
        const bool monitor = round == 3;
        fw::InstallReport rep;
        ASSERT_NO_THROW(rep = install(rs)) << "the generator kept to the shape budget";
        installer().set_monitor(monitor);
        std::cout << "[ differential ] round " << round << ": " << rep.rules << " rules, " << rep.tuples
                  << " tuples (" << shapes << " by the generator), " << rep.entries << " entries, default "
                  << fw::to_string(rs.default_action) << (monitor ? ", monitor" : "") << "\n";
        ASSERT_EQ(rep.tuples, shapes);

        // Reference counts: exact for allow/deny rules; for count rules exact
        // unless a packet matched more count rules than the data plane
        // remembers per packet, where it may count fewer (never more).
        std::vector<__u64> want_pk(rs.rules.size()), want_by(rs.rules.size()), upper_pk(rs.rules.size());
        std::vector<bool> uncertain(rs.rules.size());
        std::vector<__u32> slots;
        for (const auto& c : installer().counters()) slots.push_back(c.slot);

        for (size_t i = 0; i < n_packets; ++i) {
            const fw::Rule* target = g.u(5) ? &rs.rules[g.u(rs.rules.size())] : nullptr;
            const PacketFields raw = g.packet(target), p = normalized(raw);
            const uint16_t inner = p.vlan && g.u(4) == 0 ? uint16_t(1 + g.u(4094)) : 0;
            const Bytes frame = frame_of(raw, inner, uint16_t(8 * (1 + g.u(100))), g.u(64));
            const Decision d = classify(rs, p);

            int want_reason;
            __u32 want_action = XDP_PASS;
            bool deny;
            if (d.rule >= 0) {
                deny = rs.rules[d.rule].action == Action::deny;
                want_reason = deny ? (monitor ? XDPD_R_FW_MONITOR : XDPD_R_FW_DENY) : XDPD_R_FW_ALLOW;
                want_pk[d.rule]++;
                want_by[d.rule] += frame.size();
                upper_pk[d.rule]++;
            } else {
                deny = rs.default_action == Action::deny;
                want_reason = deny ? (monitor ? XDPD_R_DEFAULT_MONITOR : XDPD_R_DEFAULT_DENY)
                                   : XDPD_R_DEFAULT_ALLOW;
            }
            if (deny && !monitor) want_action = XDP_DROP;
            if (d.count_matches > XDPD_FW_COUNT_CHAIN) {
                ++over_chain;
                for (int c : d.counted) uncertain[c] = true;
            }
            for (int c : d.counted) {
                if (d.count_matches <= XDPD_FW_COUNT_CHAIN) {
                    want_pk[c]++;
                    want_by[c] += frame.size();
                }
                upper_pk[c]++;
            }

            const xdpd_counter before = d.rule >= 0 ? rule_slot_counter(slots[d.rule]) : xdpd_counter{};
            Observation o = observe(frame, p.ifindex);
            ++total_packets;
            reasons_seen[o.reason]++;
            bool ok = o.ok && o.action == want_action && o.reason == want_reason;
            if (ok && d.rule >= 0) {  // and the deciding rule is the one credited
                const xdpd_counter after = rule_slot_counter(slots[d.rule]);
                ok = after.packets == before.packets + 1 && after.bytes == before.bytes + frame.size();
            }
            if (!ok) {
                ++mismatches;
                if (mismatches <= 10) {
                    int dp_rule = dp_rule_of(rs, frame, p.ifindex);
                    ADD_FAILURE() << "packet " << i << ": " << describe(p)
                                  << (inner ? " inner vlan " + std::to_string(inner) : "") << "\n  reference: "
                                  << (d.rule >= 0 ? "rule " + std::to_string(d.rule) + " '" +
                                                        rs.rules[d.rule].describe() + "'"
                                                  : std::string("default"))
                                  << " -> action " << want_action << " " << reason_name(want_reason)
                                  << "\n  data plane: action " << o.action << " " << reason_name(o.reason)
                                  << ", credited "
                                  << (dp_rule >= 0 ? "rule " + std::to_string(dp_rule) + " '" +
                                                         rs.rules[dp_rule].describe() + "'"
                                                   : std::string("no rule"));
                }
            }
        }

        // Whole-round counters, rule by rule.
        auto got = installer().counters();
        ASSERT_EQ(got.size(), rs.rules.size());
        size_t counter_errors = 0, count_rules_hit = 0, count_rules_uncertain = 0;
        for (size_t i = 0; i < rs.rules.size(); ++i) {
            const auto& c = got[i].total;
            bool ok;
            if (rs.rules[i].action == Action::count && uncertain[i]) {
                ++count_rules_uncertain;
                ok = c.packets >= want_pk[i] && c.packets <= upper_pk[i];
            } else {
                ok = c.packets == want_pk[i] && c.bytes == want_by[i];
            }
            if (rs.rules[i].action == Action::count && c.packets) ++count_rules_hit;
            if (!ok && ++counter_errors <= 10)
                ADD_FAILURE() << "rule " << i << " '" << rs.rules[i].describe() << "' ("
                              << fw::to_string(rs.rules[i].action) << "): data plane counted " << c.packets
                              << " packets / " << c.bytes << " bytes, reference " << want_pk[i] << " / "
                              << want_by[i] << (uncertain[i] ? " (up to " + std::to_string(upper_pk[i]) + ")" : "");
        }
        size_t rules_hit = 0;
        for (size_t i = 0; i < rs.rules.size(); ++i) rules_hit += want_pk[i] > 0;
        std::cout << "[ differential ] round " << round << ": " << rules_hit << " rules hit, "
                  << count_rules_hit << " count rules hit (" << count_rules_uncertain
                  << " past the per-packet chain), " << counter_errors << " counter mismatches\n";
        EXPECT_EQ(counter_errors, 0u);
        ASSERT_EQ(mismatches, 0u) << "verdict/reason mismatches, see above";
        installer().set_monitor(false);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[ differential ] " << total_packets << " packets, " << mismatches << " mismatches, "
              << over_chain << " packets matched more than " << XDPD_FW_COUNT_CHAIN
              << " count rules, " << secs << " s; reasons:";
    for (auto [r, n] : reasons_seen) std::cout << " " << reason_name(r) << "=" << n;
    std::cout << "\n";
    // The run must have exercised every outcome, or it proves little.
    for (int r : {XDPD_R_FW_ALLOW, XDPD_R_FW_DENY, XDPD_R_FW_MONITOR, XDPD_R_DEFAULT_ALLOW,
                  XDPD_R_DEFAULT_DENY, XDPD_R_DEFAULT_MONITOR})
        EXPECT_GT(reasons_seen[r], 0u) << reason_name(r) << " never seen";
}

}  // namespace
}  // namespace xdpd::test
