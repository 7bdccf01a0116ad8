#include "steer/cpus.hpp"

#include <fmt/format.h>
#include <linux/bpf.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "xdpd/abi.h"

namespace xdpd::steer {

std::vector<std::string> install_cpus(const bpf::MapRef& cpumap, const bpf::MapRef& steer_cfg,
                                      const std::vector<__u32>& cpus, __u32 queue_size) {
    std::vector<std::string> notes;
    if (cpus.size() > XDPD_MAX_CPUS)
        throw std::invalid_argument(fmt::format("{} CPUs, steering targets at most {}", cpus.size(), XDPD_MAX_CPUS));
    const __u32 ncpu = __u32(std::min(bpf::possible_cpus(), XDPD_MAX_CPUS));
    for (__u32 c : cpus)
        if (c >= ncpu) throw std::invalid_argument(fmt::format("CPU {} does not exist ({} possible)", c, ncpu));
    const std::set<__u32> want(cpus.begin(), cpus.end());
    // Spread list first off: no packet picks a CPU whose entry is going.
    xdpd_steer_config sc{};
    const __u32 zero = 0;
    bpf::Map<__u32, xdpd_steer_config> cfg(steer_cfg);
    cfg.update(zero, sc);

    bpf::Map<__u32, bpf_cpumap_val> map(cpumap);
    size_t added = 0, removed = 0;
    for (__u32 c = 0; c < ncpu; ++c) {
        std::optional<bpf_cpumap_val> have;
        try {
            have = map.lookup(c);
        } catch (const SysError&) {
        }
        if (!want.count(c)) {
            if (have && map.erase(c)) ++removed;
            continue;
        }
        if (have && have->qsize == queue_size) continue;
        bpf_cpumap_val v{};
        v.qsize = queue_size;
        map.update(c, v);
        ++added;
    }
    sc.n_cpus = __u32(cpus.size());
    for (size_t i = 0; i < cpus.size(); ++i) sc.cpus[i] = cpus[i];
    cfg.update(zero, sc);
    if (added || removed)
        notes.push_back(fmt::format("steer: CPUMAP entries for {} CPUs (queue {}){}", cpus.size(), queue_size,
                                    removed ? fmt::format(", {} removed", removed) : ""));
    return notes;
}

}  // namespace xdpd::steer
