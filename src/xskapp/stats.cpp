#include "xskapp/stats.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <mutex>

namespace xdpd::xskapp {
namespace {

std::mutex g_out;  // lines from the reporter and the workers (--show-meta) never mix

void put_line(const std::string& s) {
    std::lock_guard lk(g_out);
    std::fputs(s.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

double rate(uint64_t n, double secs) { return secs > 0 ? double(n) / secs : 0; }

std::string si(double v) {
    if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
    if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
    if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
    return fmt::format("{:.0f}", v);
}

// "rx-drop 3 ring-full 0 fill-empty 12 ..." for the counters that are not zero.
std::string drops(const QueueSample& d) {
    std::string s;
    auto add = [&](const char* name, uint64_t v) {
        if (v) s += fmt::format(" {} {}", name, v);
    };
    add("rx-dropped", d.xdp.rx_dropped);
    add("rx-ring-full", d.xdp.rx_ring_full);
    add("fill-ring-empty", d.xdp.rx_fill_ring_empty_descs);
    add("tx-ring-empty", d.xdp.tx_ring_empty_descs);
    add("rx-invalid", d.xdp.rx_invalid_descs);
    add("tx-invalid", d.xdp.tx_invalid_descs);
    add("not-for-me", d.not_for_me);
    add("tx-full", d.tx_ring_full);
    return s.empty() ? " -" : s;
}

}  // namespace

QueueSample QueueSample::read(uint32_t queue, const QueueCounters& c, const xsk::Statistics& xdp) {
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    QueueSample s;
    s.queue = queue;
    s.rx_packets = ld(c.rx_packets);
    s.rx_bytes = ld(c.rx_bytes);
    s.tx_packets = ld(c.tx_packets);
    s.tx_bytes = ld(c.tx_bytes);
    s.not_for_me = ld(c.not_for_me);
    s.tx_ring_full = ld(c.tx_ring_full);
    s.rx_empty_polls = ld(c.rx_empty_polls);
    s.fill_fail = ld(c.fill_fail);
    s.tx_kicks = ld(c.tx_kicks);
    s.xdp = xdp;
    return s;
}

#define XSKAPP_FIELDS(X)                                                                            \
    X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes) X(not_for_me) X(tx_ring_full) X(rx_empty_polls) \
    X(fill_fail) X(tx_kicks) X(xdp.rx_dropped) X(xdp.rx_invalid_descs) X(xdp.tx_invalid_descs)     \
    X(xdp.rx_ring_full) X(xdp.rx_fill_ring_empty_descs) X(xdp.tx_ring_empty_descs)

QueueSample& QueueSample::operator+=(const QueueSample& o) {
#define ADD(f) f += o.f;
    XSKAPP_FIELDS(ADD)
#undef ADD
    return *this;
}

QueueSample QueueSample::operator-(const QueueSample& o) const {
    QueueSample d = *this;
#define SUB(f) d.f -= o.f;
    XSKAPP_FIELDS(SUB)
#undef SUB
    return d;
}

nlohmann::json QueueSample::to_json() const {
    return {{"queue", queue},
            {"rx_packets", rx_packets},
            {"rx_bytes", rx_bytes},
            {"tx_packets", tx_packets},
            {"tx_bytes", tx_bytes},
            {"not_for_me", not_for_me},
            {"tx_ring_full", tx_ring_full},
            {"rx_empty_polls", rx_empty_polls},
            {"fill_fail", fill_fail},
            {"tx_kicks", tx_kicks},
            {"rx_dropped", xdp.rx_dropped},
            {"rx_ring_full", xdp.rx_ring_full},
            {"fill_ring_empty", xdp.rx_fill_ring_empty_descs},
            {"tx_ring_empty", xdp.tx_ring_empty_descs},
            {"rx_invalid_descs", xdp.rx_invalid_descs},
            {"tx_invalid_descs", xdp.tx_invalid_descs}};
}

QueueSample Sample::total() const {
    QueueSample t;
    for (const QueueSample& q : queues) t += q;
    return t;
}

void Reporter::emit(const nlohmann::json& j, const std::string& text) const {
    put_line(json_ ? j.dump() : text);
}

void Reporter::interval(const Sample& prev, const Sample& cur) const {
    if (quiet_) return;
    const double secs = cur.elapsed - prev.elapsed;
    if (json_) {
        nlohmann::json qs = nlohmann::json::array();
        for (size_t i = 0; i < cur.queues.size(); ++i) {
            const QueueSample d = cur.queues[i] - prev.queues[i];
            nlohmann::json q = cur.queues[i].to_json();
            q["rx_pps"] = rate(d.rx_packets, secs);
            q["tx_pps"] = rate(d.tx_packets, secs);
            qs.push_back(std::move(q));
        }
        const QueueSample d = cur.total() - prev.total();
        nlohmann::json t = cur.total().to_json();
        t.erase("queue");
        t["rx_pps"] = rate(d.rx_packets, secs);
        t["tx_pps"] = rate(d.tx_packets, secs);
        put_line(nlohmann::json{{"event", "sample"}, {"app", app_}, {"interface", ifname_},
                                {"elapsed", cur.elapsed}, {"queues", qs}, {"total", t}}
                     .dump());
        return;
    }
    for (size_t i = 0; i < cur.queues.size(); ++i) {
        const QueueSample d = cur.queues[i] - prev.queues[i];
        put_line(fmt::format("{:7.1f}s q{:<2} rx {:>8} pps {:>9}bit/s  tx {:>8} pps  empty-polls {:>7}  drops:{}",
                             cur.elapsed, cur.queues[i].queue, si(rate(d.rx_packets, secs)),
                             si(rate(d.rx_bytes * 8, secs)), si(rate(d.tx_packets, secs)),
                             d.rx_empty_polls, drops(d)));
    }
}

void Reporter::summary(const Sample& last, const std::string& why) const {
    const QueueSample t = last.total();
    if (json_) {
        nlohmann::json qs = nlohmann::json::array();
        for (const QueueSample& q : last.queues) {
            nlohmann::json j = q.to_json();
            j["rx_pps"] = rate(q.rx_packets, last.elapsed);
            j["tx_pps"] = rate(q.tx_packets, last.elapsed);
            qs.push_back(std::move(j));
        }
        nlohmann::json tj = t.to_json();
        tj.erase("queue");
        tj["rx_pps"] = rate(t.rx_packets, last.elapsed);
        tj["tx_pps"] = rate(t.tx_packets, last.elapsed);
        put_line(nlohmann::json{{"event", "summary"}, {"app", app_}, {"interface", ifname_}, {"stopped_by", why},
                                {"duration", last.elapsed}, {"queues", qs}, {"total", tj}}
                     .dump());
        return;
    }
    put_line(fmt::format("\nxdpd xsk {} on {}: {:.1f} s, stopped by {}", app_, ifname_, last.elapsed, why));
    put_line(fmt::format("{:>5} {:>12} {:>14} {:>12} {:>14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", "queue",
                         "rx packets", "rx bytes", "tx packets", "tx bytes", "rx pps", "rx-drop", "ring-full",
                         "fill-empty", "tx-empty", "not-for-me"));
    auto row = [&](const std::string& name, const QueueSample& q) {
        put_line(fmt::format("{:>5} {:>12} {:>14} {:>12} {:>14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", name,
                             q.rx_packets, q.rx_bytes, q.tx_packets, q.tx_bytes,
                             si(rate(q.rx_packets, last.elapsed)), q.xdp.rx_dropped, q.xdp.rx_ring_full,
                             q.xdp.rx_fill_ring_empty_descs, q.xdp.tx_ring_empty_descs, q.not_for_me));
    };
    for (const QueueSample& q : last.queues) row(std::to_string(q.queue), q);
    if (last.queues.size() > 1) row("all", t);
    if (t.tx_ring_full || t.xdp.rx_invalid_descs || t.xdp.tx_invalid_descs)
        put_line(fmt::format("tx ring full (dropped by the app) {}, invalid descriptors rx {} tx {}", t.tx_ring_full,
                             t.xdp.rx_invalid_descs, t.xdp.tx_invalid_descs));
}

}  // namespace xdpd::xskapp
