#include "shield/lists.hpp"
#include "util/clock.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace xdpd::shield {
namespace {

constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

const char* to_string(xdpd_origin o) {
    switch (o) {
    case XDPD_ORIGIN_CONFIG: return "config";
    case XDPD_ORIGIN_API: return "api";
    case XDPD_ORIGIN_AUTO: return "auto";
    }
    return "?";
}

xdpd_lpm_key lpm_key(const fw::Cidr& c) {
    xdpd_lpm_key k{};
    if (c.family == 4) {
        std::memcpy(k.addr, kV4Mapped, 12);
        std::memcpy(k.addr + 12, c.addr.data(), 4);
        k.prefixlen = __u32(96 + c.prefix);
    } else {
        std::memcpy(k.addr, c.addr.data(), 16);
        k.prefixlen = __u32(c.prefix);
    }
    return k;
}

fw::Cidr from_lpm_key(const xdpd_lpm_key& k) {
    fw::Cidr c;
    if (k.prefixlen >= 96 && std::memcmp(k.addr, kV4Mapped, 12) == 0) {
        c.family = 4;
        std::memcpy(c.addr.data(), k.addr + 12, 4);
        c.prefix = int(k.prefixlen) - 96;
    } else {
        c.family = 6;
        std::memcpy(c.addr.data(), k.addr, 16);
        c.prefix = int(k.prefixlen);
    }
    return c;
}

Lists::Lists(const bpf::MapRef& bans, const bpf::MapRef& allow, const bpf::MapRef& runtime)
    : bans_(bans.fd(), bans.name()), allow_(allow.fd(), allow.name()), rt_(runtime) {
    recount();
}

__u64 Lists::now_ns() const {
    __u64 fake = __atomic_load_n(&rt_->fake_now_ns, __ATOMIC_ACQUIRE);
    return fake ? fake : monotonic_ns();
}

void Lists::recount() {
    // The counts tell the data plane whether to look at all. Counted once here;
    // kept by each change after (this process is the only writer).
    auto all = bans();
    by_origin_ = {};
    for (const auto& b : all) {
        if (b.expires_ns) next_expiry_ = std::min(next_expiry_, b.expires_ns);
        count_ban(b.origin, +1);
    }
    rt_.store(rt_->n_bans, __u32(all.size()));
    rt_.store(rt_->n_allow, __u32(bpf::Map<xdpd_lpm_key, xdpd_allow>(allow_).keys().size()));
}

void Lists::adjust(__u32& count, int delta) {
    rt_.store(count, __u32(int64_t(rt_.load(count)) + delta));
}

void Lists::count_ban(xdpd_origin origin, int delta) {
    if (size_t(origin) < kOrigins) by_origin_[origin] += uint64_t(int64_t(delta));
}

void Lists::ban(const fw::Cidr& prefix, std::optional<std::chrono::nanoseconds> duration,
                const std::string& reason, xdpd_origin origin) {
    bpf::Map<xdpd_lpm_key, xdpd_ban> m(bans_);
    const auto key = lpm_key(prefix);
    xdpd_ban v{};
    auto old = m.lookup(key);
    if (old) v = *old;
    const __u64 now = now_ns();
    if (!v.created_ns) v.created_ns = now;
    v.expires_ns = duration ? now + __u64(duration->count()) : 0;
    if (v.expires_ns) next_expiry_ = std::min(next_expiry_, v.expires_ns);
    v.origin = origin;
    std::memset(v.reason, 0, sizeof v.reason);
    std::strncpy(v.reason, reason.c_str(), sizeof v.reason - 1);
    m.update(key, v);
    if (old) count_ban(xdpd_origin(old->origin), -1);
    else adjust(rt_->n_bans, +1);
    count_ban(origin, +1);
}

bool Lists::unban(const fw::Cidr& prefix) {
    bpf::Map<xdpd_lpm_key, xdpd_ban> m(bans_);
    const auto key = lpm_key(prefix);
    const auto old = m.lookup(key);
    if (!old || !m.erase(key)) return false;
    adjust(rt_->n_bans, -1);
    count_ban(xdpd_origin(old->origin), -1);
    return true;
}

std::vector<Ban> Lists::bans() const {
    bpf::Map<xdpd_lpm_key, xdpd_ban> m(bans_);
    std::vector<Ban> out;
    for (const auto& k : m.keys())
        if (auto v = m.lookup(k))
            out.push_back(Ban{from_lpm_key(k), v->expires_ns, v->created_ns, v->hits,
                              xdpd_origin(v->origin), std::string(v->reason, strnlen(v->reason, sizeof v->reason))});
    return out;
}

void Lists::allow(const fw::Cidr& prefix, xdpd_origin origin) {
    bpf::Map<xdpd_lpm_key, xdpd_allow> m(allow_);
    const auto key = lpm_key(prefix);
    xdpd_allow v{};
    auto old = m.lookup(key);
    if (old) v = *old;
    v.origin = origin;
    m.update(key, v);
    if (!old) adjust(rt_->n_allow, +1);
}

bool Lists::disallow(const fw::Cidr& prefix) {
    bool removed = bpf::Map<xdpd_lpm_key, xdpd_allow>(allow_).erase(lpm_key(prefix));
    if (removed) adjust(rt_->n_allow, -1);
    return removed;
}

std::vector<Allowed> Lists::allowed() const {
    bpf::Map<xdpd_lpm_key, xdpd_allow> m(allow_);
    std::vector<Allowed> out;
    for (const auto& k : m.keys())
        if (auto v = m.lookup(k)) out.push_back(Allowed{from_lpm_key(k), v->hits, xdpd_origin(v->origin)});
    return out;
}

std::vector<Ban> Lists::expire() {
    std::vector<Ban> gone;
    const __u64 now = now_ns();
    if (now < next_expiry_) return gone;
    bpf::Map<xdpd_lpm_key, xdpd_ban> m(bans_);
    next_expiry_ = ~0ull;
    for (const auto& b : bans()) {
        if (!b.expires_ns) continue;
        if (b.expires_ns <= now && m.erase(lpm_key(b.prefix))) {
            adjust(rt_->n_bans, -1);
            count_ban(b.origin, -1);
            gone.push_back(b);
        } else if (b.expires_ns > now) {
            next_expiry_ = std::min(next_expiry_, b.expires_ns);
        }
    }
    return gone;
}

}  // namespace xdpd::shield
