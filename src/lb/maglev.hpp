// Maglev consistent hashing for the L4 load balancer (Eisenbud et al.,
// "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI'16).
//
// The table of a VIP has M entries (M prime, by default XDPD_LB_RING_SIZE);
// each holds the backend slot that a new flow with hash h takes when
// h % M lands on it (kNoBackend: none in service). Each backend, named by its
// identity ("10.78.0.11:8080"), has a preference list of the entries, a
// permutation of 0..M-1 derived from a fixed hash of the identity; backends
// take turns claiming their next free preferred entry until the table is full.
//
// Determinism: the table depends only on the set of (identity, weight, slot)
// and M — not on the input order, the host or the build — so every node given
// the same backends builds the same table and sends a flow to the same backend.
// Weights: a backend gets a share of the entries proportional to its weight
// (0 to kMaglevMaxWeight; 0 = draining, not in the table).
// Removing one of N backends reassigns its entries and only a few others:
// about 1/N of the table changes; adding one changes about 1/(N+1).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xdpd/abi.h"

namespace xdpd::lb {

struct MaglevBackend {
    std::string id;       // identity; unique in a table; hashed for its permutation
    unsigned weight = 1;  // 0..kMaglevMaxWeight; 0 = not in the table (draining)
    uint32_t slot = 0;    // the value written into the table; < XDPD_LB_MAX_BACKENDS
};

constexpr uint32_t kNoBackend = 0xffffffff;  // the data plane: >= XDPD_LB_MAX_BACKENDS = none
constexpr unsigned kMaglevMaxWeight = 1000;

// The table of `size` entries (a prime greater than the number of backends of
// weight > 0). Throws std::invalid_argument on a duplicate identity, a weight
// over kMaglevMaxWeight, a slot >= XDPD_LB_MAX_BACKENDS or a bad size.
std::vector<uint32_t> maglev_table(std::vector<MaglevBackend> backends,
                                   uint32_t size = XDPD_LB_RING_SIZE);

// The fixed hash of an identity (64-bit FNV-1a from a seeded basis, then the
// SplitMix64 finalizer). Changing it changes every table: nodes of different
// versions would disagree during a rolling upgrade.
uint64_t maglev_hash(std::string_view text, uint64_t seed);

// Fraction of entries that differ between two tables of the same size.
double table_difference(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

}  // namespace xdpd::lb
