#include "lb/maglev.hpp"

#include <algorithm>
#include <stdexcept>

namespace xdpd::lb {

namespace {

// Seeds of a backend's offset and skip: two independent hashes of its identity.
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d6full;  // "maglev-o"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d73ull;    // "maglev-s"

bool is_prime(uint32_t n) {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (uint64_t d = 3; d * d <= n; d += 2)
        if (n % d == 0) return false;
    return true;
}

}  // namespace

uint64_t maglev_hash(std::string_view text, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ull ^ seed;  // FNV-1a 64
    for (unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;  // SplitMix64 finalizer: FNV's low bits mix poorly
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

std::vector<uint32_t> maglev_table(std::vector<MaglevBackend> backends, uint32_t size) {
    std::sort(backends.begin(), backends.end(),
              [](const MaglevBackend& a, const MaglevBackend& b) { return a.id < b.id; });
    for (size_t i = 0; i < backends.size(); i++) {
        const auto& b = backends[i];
        if (i > 0 && backends[i - 1].id == b.id)
            throw std::invalid_argument("maglev: duplicate backend '" + b.id + "'");
        if (b.weight > kMaglevMaxWeight)
            throw std::invalid_argument("maglev: backend '" + b.id + "': weight " +
                                        std::to_string(b.weight) + " over the maximum " +
                                        std::to_string(kMaglevMaxWeight));
        if (b.slot >= XDPD_LB_MAX_BACKENDS)
            throw std::invalid_argument("maglev: backend '" + b.id + "': slot " +
                                        std::to_string(b.slot) + " out of range");
    }
    std::erase_if(backends, [](const MaglevBackend& b) { return b.weight == 0; });
    const size_t n = backends.size();
    if (!is_prime(size))
        throw std::invalid_argument("maglev: table size " + std::to_string(size) + " is not a prime");
    if (size <= n)
        throw std::invalid_argument("maglev: table size " + std::to_string(size) +
                                    " not greater than the " + std::to_string(n) + " backends");

    std::vector<uint32_t> table(size, kNoBackend);
    if (n == 0) return table;

    // Backend i prefers entries offset, offset+skip, offset+2*skip, ... (mod M):
    // a permutation of the table, as M is prime and 0 < skip < M. pos is its
    // next preference; credit accrues its weight each round and it claims an
    // entry whenever the credit reaches the largest weight, so a backend of
    // the largest weight claims every round and one of half that every other.
    struct State {
        uint64_t pos, skip;
        unsigned weight, credit = 0;
        uint32_t slot;
    };
    std::vector<State> st;
    st.reserve(n);
    unsigned max_weight = 0;
    for (const auto& b : backends) {
        st.push_back({maglev_hash(b.id, kOffsetSeed) % size,
                      maglev_hash(b.id, kSkipSeed) % (size - 1) + 1, b.weight, 0, b.slot});
        max_weight = std::max(max_weight, b.weight);
    }

    uint32_t filled = 0;
    for (;;) {
        for (auto& s : st) {
            s.credit += s.weight;
            if (s.credit < max_weight) continue;
            s.credit -= max_weight;
            while (table[s.pos] != kNoBackend)
                if ((s.pos += s.skip) >= size) s.pos -= size;
            table[s.pos] = s.slot;
            if ((s.pos += s.skip) >= size) s.pos -= size;
            if (++filled == size) return table;
        }
    }
}

double table_difference(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
    if (a.size() != b.size()) throw std::invalid_argument("table_difference: sizes differ");
    if (a.empty()) return 0;
    size_t diff = 0;
    for (size_t i = 0; i < a.size(); i++) diff += a[i] != b[i];
    return double(diff) / double(a.size());
}

}  // namespace xdpd::lb
