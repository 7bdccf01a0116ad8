#include "observe/observer.hpp"
#include "util/clock.hpp"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "stats/names.hpp"
#include "util/error.hpp"

namespace xdpd::observe {
namespace {

std::string ip_text(int family, const __u32 (&a)[4]) {
    char buf[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf);
    return buf;
}

std::string reason_name(unsigned r) {
    return r < stats::kReasonNames.size() ? std::string(stats::kReasonNames[r]) : "reason " + std::to_string(r);
}

std::string action_name(unsigned a) {
    return a < stats::kActionNames.size() ? std::string(stats::kActionNames[a]) : "action " + std::to_string(a);
}

}  // namespace

std::string addr_text(const __u8 (&addr)[16]) {
    static const __u8 v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN] = "";
    if (memcmp(addr, v4mapped, 12) == 0)
        inet_ntop(AF_INET, addr + 12, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, addr, buf, sizeof buf);
    return buf;
}

Observer::Observer(PinnedFn pinned, mitigation::EventLog& events, IfnameFn ifname)
    : pinned_(std::move(pinned)), events_(events), ifname_(std::move(ifname)) {
    observe_map_ = pinned_("xdpd_observe");
    top_map_ = pinned_("xdpd_top_sources");
    cpu_map_ = pinned_("xdpd_observe_cpu");
    observe_ = std::make_unique<bpf::MappedArray>(observe_map_);
    const bpf::MapRef ring = pinned_("xdpd_events");
    ring_ = ring_buffer__new(ring.fd(), &Observer::on_event, this, nullptr);
    if (!ring_) throw SysError("open the event ring buffer xdpd_events", errno);
}

Observer::~Observer() {
    if (ring_) ring_buffer__free(ring_);
}

void Observer::configure(const config::ObserveConfig& cfg) {
    auto* o = static_cast<xdpd_observe*>(observe_->data());
    __atomic_store_n(&o->top_sample, cfg.source_sample, __ATOMIC_RELAXED);
    __atomic_store_n(&o->event_rate, cfg.event_rate, __ATOMIC_RELAXED);
    __atomic_store_n(&o->event_reasons, cfg.event_rate ? cfg.event_reasons : 0, __ATOMIC_RELEASE);
    if (cfg.source_sample != cfg_.source_sample) {
        prev_counts_.clear();  // counts of another sampling rate
        top_.clear();
    }
    cfg_ = cfg;
}

int Observer::event_fd() const { return ring_buffer__epoll_fd(ring_); }

void Observer::consume() {
    if (ring_buffer__consume(ring_) < 0) spdlog::warn("events: reading the ring buffer failed");
}

int Observer::on_event(void* self, void* data, size_t size) {
    if (size >= sizeof(xdpd_dp_event)) {
        xdpd_dp_event e;
        memcpy(&e, data, sizeof e);
        static_cast<Observer*>(self)->handle(e);
    }
    return 0;
}

void Observer::handle(const xdpd_dp_event& e) {
    ++read_;
    const std::string reason = reason_name(e.reason);
    const bool ip = e.family == 4 || e.family == 6;
    const std::string src = ip ? ip_text(e.family, e.src) : "";
    // Told once per window per (reason, source); the next one says how many
    // were held back.
    const double now = monotonic_s();
    Seen& s = recent_[reason + "/" + src];
    if (s.last && now - s.last < kRepeatWindow) {
        ++s.repeats;
        ++coalesced_;
        return;
    }
    nlohmann::json d = {{"reason", reason}, {"verdict", action_name(e.action)}, {"interface", ifname_(e.ifindex)}};
    if (ip) {
        d["src"] = src;
        d["dst"] = ip_text(e.family, e.dst);
        d["proto"] = e.proto;
        if (e.proto == IPPROTO_TCP || e.proto == IPPROTO_UDP) d["sport"] = e.sport, d["dport"] = e.dport;
    }
    if (e.rule) d["rule_slot"] = e.rule - 1;
    s = {now, 0};
    events_.add("packet_" + reason, "", std::move(d));
}

void Observer::tick(double now) {
    // Capture watchdog: a capture whose process died would cost every packet
    // the filter forever.
    auto* o = static_cast<xdpd_observe*>(observe_->data());
    if (__atomic_load_n(&o->capture, __ATOMIC_ACQUIRE)) {
        const __u32 pid = __atomic_load_n(&o->capture_owner, __ATOMIC_ACQUIRE);
        __u32 dead = pid;
        const __u32 self = __u32(getpid());
        // Claim the capture before ending it, so that one started meanwhile by
        // another process (it takes over a dead owner the same way) is never
        // switched off by mistake.
        if (pid && kill(pid_t(pid), 0) != 0 && errno == ESRCH &&
            __atomic_compare_exchange_n(&o->capture_owner, &dead, self, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&o->capture, 0u, __ATOMIC_RELEASE);
            __atomic_store_n(&o->capture_owner, 0u, __ATOMIC_RELEASE);
            spdlog::warn("capture: process {} is gone without ending its capture; ended it", pid);
            events_.add("capture_abandoned", "", {{"pid", pid}});
        }
    }
    // Windows that ended: say how many were held back, then forget them.
    for (auto it = recent_.begin(); it != recent_.end();) {
        if (now - it->second.last < kRepeatWindow) {
            ++it;
            continue;
        }
        if (it->second.repeats) {
            const auto slash = it->first.find('/');
            const std::string reason = it->first.substr(0, slash), src = it->first.substr(slash + 1);
            nlohmann::json d = {{"reason", reason}, {"held_back", it->second.repeats},
                                {"window_s", kRepeatWindow}};
            if (!src.empty()) d["src"] = src;
            events_.add("packet_" + reason, "", std::move(d));
        }
        it = recent_.erase(it);
    }

    // Source rates from the sampled counts.
    if (!cfg_.source_sample) {
        top_.clear();
        return;
    }
    std::map<std::array<__u8, 16>, xdpd_top_count> cur;
    bpf::for_each_entry(top_map_, [&](const void* k, const void* v) {
        std::array<__u8, 16> key;
        memcpy(key.data(), k, 16);
        xdpd_top_count c;
        memcpy(&c, v, sizeof c);
        cur.emplace(key, c);
    });
    std::vector<SourceRate> rates;
    const double dt = now - prev_time_;
    if (prev_time_ && dt > 0) {
        const double n = cfg_.source_sample;
        for (const auto& [key, c] : cur) {
            auto p = prev_counts_.find(key);
            const xdpd_top_count before = p == prev_counts_.end() ? xdpd_top_count{} : p->second;
            if (c.packets <= before.packets) continue;
            __u8 a[16];
            memcpy(a, key.data(), 16);
            rates.push_back({addr_text(a), double(c.packets - before.packets) * n / dt,
                             double(c.bytes - before.bytes) * 8 * n / dt,
                             double(c.dropped - std::min(c.dropped, before.dropped)) * n / dt});
        }
    }
    std::sort(rates.begin(), rates.end(), [](const auto& a, const auto& b) { return a.pps > b.pps; });
    if (rates.size() > 1000) rates.resize(1000);
    top_ = std::move(rates);
    prev_counts_ = std::move(cur);
    prev_time_ = now;
}

std::vector<SourceRate> Observer::top(size_t n) const {
    if (!n) n = cfg_.top_sources;
    return {top_.begin(), top_.begin() + std::ptrdiff_t(std::min(n, top_.size()))};
}

Observer::Counters Observer::counters() const {
    Counters c;
    bpf::PerCpuMap<__u32, xdpd_observe_cpu> pc(cpu_map_);
    for (const auto& v : pc.lookup_all(0)) {
        c.events_sent += v.events_sent, c.events_dropped += v.events_dropped;
        c.capture_seen += v.capture_seen, c.capture_sent += v.capture_sent, c.capture_lost += v.capture_lost;
    }
    c.events_read = read_;
    c.events_coalesced = coalesced_;
    const auto* o = static_cast<const xdpd_observe*>(observe_->data());
    c.capture_active = __atomic_load_n(&o->capture, __ATOMIC_ACQUIRE);
    c.capture_owner = __atomic_load_n(&o->capture_owner, __ATOMIC_ACQUIRE);
    return c;
}

nlohmann::json Observer::status() const {
    const Counters c = counters();
    nlohmann::json j = {{"source_sample", cfg_.source_sample},
                        {"top_sources", cfg_.top_sources},
                        {"events", {{"rate_per_cpu", cfg_.event_rate},
                                    {"sent", c.events_sent},
                                    {"dropped", c.events_dropped},
                                    {"coalesced", c.events_coalesced}}},
                        {"capture", {{"active", c.capture_active}}}};
    if (c.capture_active) j["capture"]["pid"] = c.capture_owner;
    nlohmann::json reasons = nlohmann::json::array();
    for (size_t r = 0; r < stats::kReasonNames.size(); ++r)
        if (cfg_.event_reasons & (1ull << r)) reasons.push_back(stats::kReasonNames[r]);
    j["events"]["reasons"] = reasons;
    return j;
}

}  // namespace xdpd::observe
