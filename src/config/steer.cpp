// The `steer` section: the CPUs `to: cpu` rules spread flows over, the
// CPUMAP queue size, and what happens to a packet steered to a queue without
// an AF_XDP socket. The rules' own `to`/`cpu` fields are read with the rule
// (config/rule.cpp) and checked against this section here.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "config/sections.hpp"
#include "config/walk.hpp"

namespace xdpd::config {

bool SteerConfig::any(const fw::RuleSet& rules) {
    return std::any_of(rules.rules.begin(), rules.rules.end(),
                       [](const fw::Rule& r) { return r.action == fw::Action::steer; });
}

std::vector<__u32> online_cpus() {
    // "0-3,5,7-8"
    std::ifstream in("/sys/devices/system/cpu/online");
    std::string text;
    std::getline(in, text);
    std::vector<__u32> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find(',', pos);
        if (end == std::string::npos) end = text.size();
        const std::string part = text.substr(pos, end - pos);
        try {
            const size_t dash = part.find('-');
            const unsigned long lo = std::stoul(part.substr(0, dash));
            const unsigned long hi = dash == std::string::npos ? lo : std::stoul(part.substr(dash + 1));
            for (unsigned long c = lo; c <= hi; ++c) out.push_back(__u32(c));
        } catch (const std::exception&) {
        }
        pos = end + 1;
    }
    return out;
}

namespace detail {

namespace {
constexpr std::string_view kSteerKeys[] = {"cpus", "queue_size", "no_socket"};
constexpr std::string_view kNoSocket[] = {"pass", "drop"};

std::string cpu_list(const std::vector<__u32>& cpus) {
    std::string s;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!s.empty()) s += ",";
        s += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
        i = j + 1;
    }
    return s;
}
}  // namespace

void parse_steer(const YAML::Node& node, SteerConfig& out, Reporter& rep) {
    MapReader m(node, "steer", "steer", kSteerKeys, rep);
    if (!m.is_map()) return;
    out.origin = fmt::format("{}:{}", rep.file(), node.Mark().line + 1);
    if (const Field* f = m.find("cpus")) {
        if (!f->value.IsSequence()) {
            rep.error(f->value, fmt::format("cpus must be a list of CPU numbers, got {}", describe(f->value)));
        } else if (f->value.size() == 0) {
            rep.error(f->value, "cpus is empty: list the CPUs to spread flows over, or leave it out for all "
                                "online CPUs");
        } else {
            std::set<uint64_t> seen;
            for (const auto& item : f->value) {
                Field cf{"cpu", item, item};
                auto v = read_uint(cf, 0, XDPD_MAX_CPUS - 1, rep);
                if (!v) continue;
                if (!seen.insert(*v).second) {
                    rep.error(item, fmt::format("cpu {} is listed twice", *v));
                    continue;
                }
                out.cpus.push_back(__u32(*v));
            }
            out.cpus_set = true;
        }
    }
    if (const Field* f = m.find("queue_size"))
        if (auto v = read_uint(*f, 1, 16384, rep)) out.queue_size = __u32(*v);
    if (const Field* f = m.find("no_socket"))
        if (auto i = read_choice(*f, kNoSocket, rep)) out.no_socket = *i == 0 ? XDPD_ACT_PASS : XDPD_ACT_DROP;
}

void resolve_steer(const YAML::Node& root, Config& cfg, Reporter& rep) {
    const std::vector<__u32> online = online_cpus();
    const std::set<__u32> is_online(online.begin(), online.end());
    SteerConfig& s = cfg.steer;
    if (s.cpus_set) {
        std::vector<__u32> ok;
        const YAML::Node list = root["steer"]["cpus"];
        for (size_t j = 0; j < s.cpus.size(); ++j) {
            if (is_online.count(s.cpus[j]))
                ok.push_back(s.cpus[j]);
            else
                rep.error(list[j], fmt::format("cpu {} is not online (online CPUs: {})", s.cpus[j],
                                               cpu_list(online)));
        }
        s.cpus = ok;
    } else {
        s.cpus = online;
    }
    const std::set<__u32> in_list(s.cpus.begin(), s.cpus.end());
    const auto& rules = cfg.rules.rules;
    for (size_t i = 0; i < rules.size(); ++i) {
        const fw::Rule& r = rules[i];
        if (r.action != fw::Action::steer || r.steer.to != fw::Steer::To::cpu) continue;
        if (r.steer.cpu && !in_list.count(*r.steer.cpu)) {
            const YAML::Node at = root["firewall"]["rules"][i]["cpu"];
            if (!is_online.count(*r.steer.cpu))
                rep.error(at, fmt::format("cpu {} is not online (online CPUs: {}) (rule {})", *r.steer.cpu,
                                          cpu_list(online), i + 1));
            else
                rep.error(at, fmt::format("cpu {} is not in steer.cpus ({}) (rule {})", *r.steer.cpu,
                                          cpu_list(s.cpus), i + 1));
        }
        if (!r.steer.cpu && s.cpus.empty())
            rep.error(root["firewall"]["rules"][i]["to"],
                      fmt::format("no CPU to spread flows over: no CPU is online by "
                                  "/sys/devices/system/cpu/online (rule {})",
                                  i + 1));
    }
}

}  // namespace detail
}  // namespace xdpd::config
