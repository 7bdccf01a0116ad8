#include "xskapp/apps.hpp"

#include <fmt/format.h>

#include "steer/xsk_map.hpp"
#include "xskapp/echo.hpp"

namespace xdpd::xskapp {
namespace {

const char* l3_name(uint8_t l3) { return l3 == XDPD_L3_IPV4 ? "ipv4" : l3 == XDPD_L3_IPV6 ? "ipv6" : "other"; }
const char* l4_name(uint8_t l4) {
    switch (l4) {
    case XDPD_L4_TCP: return "tcp";
    case XDPD_L4_UDP: return "udp";
    case XDPD_L4_ICMP: return "icmp";
    case XDPD_L4_ICMPV6: return "icmpv6";
    case XDPD_L4_FRAGMENT: return "fragment";
    default: return "other";
    }
}

class RxDrop : public Handler {
public:
    RxDrop(const AppOptions& o, AppShared& s) : o_(o), s_(s) {}
    bool transmits() const override { return false; }
    Verdict on_packet(Frame& f) override {
        if (o_.show_meta && s_.meta_shown.load(std::memory_order_relaxed) < o_.show_meta &&
            s_.meta_shown.fetch_add(1) < o_.show_meta)
            show(f);
        if (o_.count && s_.received.fetch_add(1, std::memory_order_relaxed) + 1 >= o_.count)
            s_.stop->store(true);
        return Verdict::drop;
    }

private:
    void show(const Frame& f) {
        nlohmann::json j = meta_json(f.data, f.queue);
        j["length"] = f.len;
        std::string text;
        if (j["present"])
            text = fmt::format("meta q{}: rule {} (slot {}) {} {} proto {} flow_hash {:#010x} ifindex {} ifslot {} "
                               "l3_off {} l4_off {} len {}",
                               f.queue, j["rule"].get<uint32_t>(), j["rule_slot"].dump(), j["l3"].get<std::string>(),
                               j["l4"].get<std::string>(), j["proto"].get<int>(), j["flow_hash"].get<uint32_t>(),
                               j["ifindex"].get<uint32_t>(), j["ifslot"].get<int>(), j["l3_off"].get<int>(),
                               j["l4_off"].get<int>(), f.len);
        else
            text = fmt::format("meta q{}: none in front of the packet (len {})", f.queue, f.len);
        s_.print(j, text);
    }
    const AppOptions& o_;
    AppShared& s_;
};

class L2Fwd : public Handler {
public:
    bool transmits() const override { return true; }
    Verdict on_packet(Frame& f) override {
        if (f.len < 14) return Verdict::drop;
        swap_macs(f.data);
        return Verdict::tx;
    }
};

class Echo : public Handler {
public:
    explicit Echo(uint16_t port) : port_(port) {}
    bool transmits() const override { return true; }
    Verdict on_packet(Frame& f) override { return udp_echo_in_place(f.data, f.len, port_); }

private:
    uint16_t port_;
};

}  // namespace

nlohmann::json meta_json(const uint8_t* pkt, uint32_t queue) {
    nlohmann::json j{{"event", "meta"}, {"queue", queue}};
    auto m = steer::read_meta(pkt);
    j["present"] = m.has_value();
    if (!m) return j;
    j["flow_hash"] = m->flow_hash;
    j["rule"] = m->rule;
    j["rule_slot"] = m->rule ? nlohmann::json(m->rule - 1) : nlohmann::json(nullptr);
    j["ifindex"] = m->ifindex;
    j["rx_queue"] = m->rx_queue;
    j["ifslot"] = m->ifslot;
    j["l3"] = l3_name(m->l3);
    j["l4"] = l4_name(m->l4);
    j["proto"] = m->proto;
    j["l3_off"] = m->l3_off;
    j["l4_off"] = m->l4_off;
    return j;
}

std::unique_ptr<Handler> make_handler(const AppOptions& o, AppShared& s) {
    switch (o.app) {
    case AppKind::rxdrop: return std::make_unique<RxDrop>(o, s);
    case AppKind::l2fwd: return std::make_unique<L2Fwd>();
    case AppKind::echo: return std::make_unique<Echo>(o.port);
    }
    return nullptr;
}

}  // namespace xdpd::xskapp
