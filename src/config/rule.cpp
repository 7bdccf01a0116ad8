// One firewall rule: its fields, and the checks between them (a port needs
// tcp or udp, addresses and ICMP version agree on the IP family, ...).
#include <fmt/format.h>
#include <netinet/in.h>

#include "config/sections.hpp"
#include "config/values.hpp"
#include "config/walk.hpp"

namespace xdpd::config::detail {

namespace {

constexpr std::string_view kRuleKeys[] = {"id",        "action", "family", "src",       "dst",
                                          "proto",     "sport",  "dport",  "tcp_flags", "icmp_type",
                                          "icmp_code", "vlan",   "iface",  "limit",
                                          "to",        "cpu"};
// Same order as fw::Action.
constexpr std::string_view kActions[] = {"allow", "deny", "count", "steer"};
// Same order as fw::Steer::To.
constexpr std::string_view kSteerTargets[] = {"xsk", "cpu"};
constexpr std::string_view kFamilies[] = {"ipv4", "ipv6"};

// Walks one rule map, collecting values; the cross-field checks run once all
// fields are read, so that key order in the file does not matter.
class RuleParser {
public:
    RuleParser(const YAML::Node& node, const MapReader& m,
               const std::vector<InterfaceConfig>& ifaces, Reporter& rep)
        : node_(node), m_(m), ifaces_(ifaces), rep_(rep) {
        // Known before the fields are walked: the L4 fields check against it.
        if (const Field* f = m_.find("proto"))
            if (f->value.IsScalar()) proto_ = parse_proto(f->value.Scalar());
    }

    void run(fw::Rule& r) {
        read_id(r);
        read_action(r);
        read_family(r.match);
        read_cidr("src", r.match.src);
        read_cidr("dst", r.match.dst);
        read_proto(r.match);
        read_ports("sport", r.match.sport);
        read_ports("dport", r.match.dport);
        read_tcp_flags(r.match);
        read_icmp(r.match);
        if (const Field* f = m_.find("vlan"))
            if (auto v = read_uint(*f, 1, 4094, rep_)) r.match.vlan = uint16_t(*v);
        read_iface(r.match);
        check_family(r.match);
        if (const Field* f = m_.find("limit"))  // the profile's name; resolved with shield.limits
            if (auto v = read_scalar(*f, rep_)) {
                if (r.action != fw::Action::allow && r.action != fw::Action::steer)
                    rep_.error(f->value, "limit applies to allow and steer rules only: it limits the traffic "
                                         "the rule lets in");
                else
                    r.limit = *v;
            }
        read_steer(r);
    }

private:
    // to: xsk | cpu, cpu: N -- steer rules only. Whether the CPU exists is
    // checked with the steer section (resolve_steer).
    void read_steer(fw::Rule& r) {
        const Field* to = m_.find("to");
        const Field* cpu = m_.find("cpu");
        const bool steer = action_ok_ && r.action == fw::Action::steer;
        if (!steer) {
            if (!action_ok_) return;  // the action is reported already
            for (const Field* f : {to, cpu})
                if (f)
                    rep_.error(f->key_node, fmt::format("{} applies to steer rules only, not to {} rules",
                                                        f->key, fw::to_string(r.action)));
            return;
        }
        bool to_ok = true;
        if (to) {
            auto i = read_choice(*to, kSteerTargets, rep_);
            if (i) r.steer.to = static_cast<fw::Steer::To>(*i);
            to_ok = i.has_value();
        }
        if (!cpu) return;
        auto v = read_uint(*cpu, 0, XDPD_MAX_CPUS - 1, rep_);
        if (r.steer.to != fw::Steer::To::cpu) {
            if (to_ok)
                rep_.error(cpu->key_node, fmt::format("cpu needs 'to: cpu'; {}", to ? "this rule steers to xsk"
                                                      : "the default target is xsk (the AF_XDP socket of the "
                                                        "packet's RX queue)"));
            return;
        }
        if (v) r.steer.cpu = __u32(*v);
    }

    void read_id(fw::Rule& r) {
        const Field* f = m_.find("id");
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        if (!s) return;
        if (!valid_rule_id(*s)) {
            rep_.error(f->value, fmt::format("invalid id '{}': use 1-64 characters from "
                                             "A-Z a-z 0-9 _ . : -",
                                             *s));
            return;
        }
        r.id = *s;
    }

    void read_action(fw::Rule& r) {
        const Field* f = m_.find("action");
        if (!f) {
            rep_.error(node_, "a rule needs an action: allow, deny, count or steer");
            return;
        }
        if (auto i = read_choice(*f, kActions, rep_)) {
            r.action = static_cast<fw::Action>(*i);
            action_ok_ = true;
        }
    }

    void read_family(fw::Match& m) {
        if (const Field* f = m_.find("family"))
            if (auto i = read_choice(*f, kFamilies, rep_)) m.family = *i == 0 ? 4 : 6;
    }

    void read_cidr(const char* key, std::optional<fw::Cidr>& out) {
        const Field* f = m_.find(key);
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        if (!s) return;
        std::string why;
        if (auto c = fw::Cidr::parse(*s, &why))
            out = *c;
        else
            rep_.error(f->value, fmt::format("invalid {} '{}': {}", key, *s, why));
    }

    void read_proto(fw::Match& m) {
        const Field* f = m_.find("proto");
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        if (!s) return;
        if (auto p = parse_proto(*s))
            m.proto = *p;
        else
            rep_.error(f->value, fmt::format("proto must be tcp, udp, icmp, icmpv6 or a number "
                                             "0-255, got '{}'",
                                             *s));
    }

    // The protocol requirement of an L4 field: reports and returns false when
    // the rule's proto is not one of `want`.
    bool needs_proto(const Field& f, std::initializer_list<uint8_t> want, const char* names) {
        const Field* pf = m_.find("proto");
        if (!pf) {
            rep_.error(f.key_node, fmt::format("{} needs proto {}", f.key, names));
            return false;
        }
        if (!proto_) return false;  // proto itself is wrong: reported already
        for (uint8_t w : want)
            if (*proto_ == w) return true;
        rep_.error(f.key_node,
                   fmt::format("{} needs proto {}, not {}", f.key, names, proto_name(*proto_)));
        return false;
    }

    void read_ports(const char* key, std::optional<fw::PortRange>& out) {
        const Field* f = m_.find(key);
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        if (!s) return;
        std::string why;
        auto r = parse_port_range(*s, &why);
        if (!r) rep_.error(f->value, fmt::format("invalid {} '{}': {}", key, *s, why));
        bool proto_ok = needs_proto(*f, {IPPROTO_TCP, IPPROTO_UDP}, "tcp or udp");
        if (r && proto_ok) out = *r;
    }

    void read_tcp_flags(fw::Match& m) {
        const Field* f = m_.find("tcp_flags");
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        if (!s) return;
        std::string why;
        auto t = fw::TcpFlags::parse(*s, &why);
        if (!t) rep_.error(f->value, fmt::format("invalid tcp_flags '{}': {}", *s, why));
        bool proto_ok = needs_proto(*f, {IPPROTO_TCP}, "tcp");
        if (t && proto_ok) m.tcp_flags = *t;
    }

    void read_icmp(fw::Match& m) {
        if (const Field* f = m_.find("icmp_type")) {
            auto s = read_scalar(*f, rep_);
            bool proto_ok = needs_proto(*f, {IPPROTO_ICMP, IPPROTO_ICMPV6}, "icmp or icmpv6");
            if (s) {
                if (auto n = parse_decimal(*s, 255)) {
                    if (proto_ok) m.icmp_type = uint8_t(*n);
                } else if (s->find_first_not_of("0123456789") == std::string::npos) {
                    rep_.error(f->value, fmt::format("icmp_type {} is out of range 0-255", *s));
                } else if (proto_ok) {
                    resolve_icmp_name(*f, *s, m);
                }
            }
        }
        if (const Field* f = m_.find("icmp_code")) {
            auto v = read_uint(*f, 0, 255, rep_);
            bool proto_ok = needs_proto(*f, {IPPROTO_ICMP, IPPROTO_ICMPV6}, "icmp or icmpv6");
            if (v && proto_ok) m.icmp_code = uint8_t(*v);
        }
    }

    void resolve_icmp_name(const Field& f, const std::string& name, fw::Match& m) {
        int fam = *proto_ == IPPROTO_ICMPV6 ? 6 : 4;
        int other = fam == 4 ? 6 : 4;
        const char* pname = fam == 4 ? "icmp" : "icmpv6";
        if (auto t = icmp_type_by_name(fam, name)) {
            m.icmp_type = *t;
            return;
        }
        auto names = icmp_type_names(fam);
        std::string msg;
        if (icmp_type_by_name(other, name))
            msg = fmt::format("icmp_type '{}' is an {} type, but proto is {}", name,
                              other == 4 ? "ICMP (IPv4)" : "ICMPv6", pname);
        else
            msg =
                fmt::format("unknown icmp_type '{}' for proto {}; use a number 0-255 or one of: {}",
                            name, pname, join_comma(names));
        if (auto near = closest(name, names)) msg += fmt::format("; did you mean '{}'?", *near);
        rep_.error(f.value, msg);
    }

    void read_iface(fw::Match& m) {
        const Field* f = m_.find("iface");
        if (!f) return;
        auto s = read_scalar(*f, rep_);
        // No valid interface at all: 'interfaces' is reported, do not pile on.
        if (!s || ifaces_.empty()) return;
        std::vector<std::string_view> names;
        for (const auto& ic : ifaces_) {
            if (ic.name == *s) {
                m.iface = *s;
                return;
            }
            names.push_back(ic.name);
        }
        std::string msg = fmt::format("iface '{}' is not in 'interfaces'", *s);
        if (!names.empty()) msg += fmt::format(" ({})", join_comma(names));
        if (auto near = closest(*s, names)) msg += fmt::format("; did you mean '{}'?", *near);
        rep_.error(f->value, msg);
    }

    // family, src, dst and icmp/icmpv6 must name one IP version. The first
    // of them sets it; each later one that disagrees is an error at its value.
    void check_family(const fw::Match& m) {
        std::optional<int> fam;
        std::string by;
        auto agree = [&](int f, std::string what, const char* key, std::string hint = {}) {
            if (!fam) {
                fam = f;
                by = std::move(what);
                return;
            }
            if (*fam != f)
                rep_.error(m_.find(key)->value,
                           fmt::format("{} is IPv{} but {} is IPv{}{}", what, f, by, *fam, hint));
        };
        if (m.family) agree(*m.family, "family", "family");
        if (m.src) agree(m.src->family, "src", "src");
        if (m.dst) agree(m.dst->family, "dst", "dst");
        if (proto_ == IPPROTO_ICMP) agree(4, "proto icmp", "proto", "; use icmpv6 for IPv6");
        if (proto_ == IPPROTO_ICMPV6) agree(6, "proto icmpv6", "proto", "; use icmp for IPv4");
    }

    const YAML::Node& node_;
    const MapReader& m_;
    const std::vector<InterfaceConfig>& ifaces_;
    Reporter& rep_;
    std::optional<uint8_t> proto_;  // the rule's proto, if given and valid
    bool action_ok_ = false;        // the action was read without error
};

}  // namespace

fw::Rule parse_rule(const YAML::Node& node, size_t number,
                    const std::vector<InterfaceConfig>& interfaces, Reporter& rep) {
    Reporter::Context ctx(rep, fmt::format(" (rule {})", number));
    fw::Rule r;
    r.origin = rep.origin(node);
    if (node.IsNull()) {
        // yaml-cpp places an empty entry at the token after it: say which rule.
        rep.error(node, "empty list entry where a rule should be");
        return r;
    }
    MapReader m(node, "rule", "a rule", kRuleKeys, rep);
    if (m.is_map()) RuleParser(node, m, interfaces, rep).run(r);
    return r;
}

}  // namespace xdpd::config::detail
