#include "bench/table_memory.hpp"

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "bench/live_receivers.hpp"
#include "bench/live_topology.hpp"
#include "bpf/map.hpp"
#include "bpf/runtime.hpp"
#include "lab/daemon_process.hpp"
#include "net/lab_topology.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "xdpd/abi.h"

namespace xdpd::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kMeminfo[] = {"VmallocUsed", "SUnreclaim", "Slab", "Percpu", "MemAvailable"};

std::map<std::string, uint64_t> read_meminfo() {
    std::map<std::string, uint64_t> out;
    std::ifstream f("/proc/meminfo");
    for (std::string line; std::getline(f, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, colon);
        for (const char* k : kMeminfo)
            if (key == k) out[key] = std::stoull(line.substr(colon + 1));
    }
    return out;
}

void read_slabinfo(MemoryStep& st) {
    std::ifstream f("/proc/slabinfo");
    std::string line;
    std::getline(f, line);
    std::getline(f, line);  // the two header lines
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string name;
        uint64_t active, total, size;
        if (in >> name >> active >> total >> size) {
            st.slab_objs[name] = active;
            st.slab_size[name] = size;
        }
    }
}

double kernel_kb(const std::map<std::string, uint64_t>& m) {
    double kb = 0;
    for (const char* k : {"VmallocUsed", "SUnreclaim", "Percpu"})
        if (auto it = m.find(k); it != m.end()) kb += double(it->second);
    return kb;
}

// /proc/meminfo once the kernel's figures stopped moving (freed maps go after
// RCU grace periods): two readings 250 ms apart within 256 KiB, at most 15 s.
std::map<std::string, uint64_t> settled_meminfo() {
    auto prev = read_meminfo();
    for (int i = 0; i < 60; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        auto cur = read_meminfo();
        if (std::abs(kernel_kb(cur) - kernel_kb(prev)) < 256) return cur;
        prev = cur;
    }
    return prev;
}

UniqueFd open_pin(const std::string& path) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) throw SysError("bpf_obj_get " + path, errno);
    return UniqueFd(fd);
}

// Entries in a map, by walking its keys.
// Inserts keys[i] -> values[i] in chunks with bpf_map_update_batch, or one by
// one where the map type has no batch update.
template <class K, class V>
void insert_all(int fd, const std::vector<K>& keys, const std::vector<V>& values) {
    constexpr size_t kChunk = 1 << 14;
    for (size_t at = 0; at < keys.size(); at += kChunk) {
        __u32 n = __u32(std::min(kChunk, keys.size() - at));
        LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
        if (bpf_map_update_batch(fd, &keys[at], &values[at], &n, &o) == 0) continue;
        if (errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP && errno != 524 /* ENOTSUPP */)
            throw SysError("bpf_map_update_batch", errno);
        for (size_t i = at; i < keys.size(); ++i)
            if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY))
                throw SysError("bpf_map_update_elem", errno);
        return;
    }
}

void v4_mapped(uint8_t* addr, uint32_t host_order) {
    std::memset(addr, 0, 10);
    addr[10] = addr[11] = 0xff;
    addr[12] = uint8_t(host_order >> 24);
    addr[13] = uint8_t(host_order >> 16);
    addr[14] = uint8_t(host_order >> 8);
    addr[15] = uint8_t(host_order);
}

class Steps {
public:
    Steps(MemoryReport& r, bool verbose) : r_(r), verbose_(verbose) {}
    MemoryStep& add(std::string name, double seconds) {
        MemoryStep s;
        s.name = std::move(name);
        s.seconds = seconds;
        s.meminfo_kb = settled_meminfo();
        read_slabinfo(s);
        r_.steps.push_back(std::move(s));
        if (verbose_) std::fprintf(stderr, "memory: %s\n", r_.steps.back().name.c_str());
        return r_.steps.back();
    }

private:
    MemoryReport& r_;
    bool verbose_;
};

void read_status(const lab::DaemonProcess& d, MemoryStep& s, nlohmann::json* maps_out) {
    auto r = d.cli({"status", "--json"});
    if (!r.ok()) throw net::CommandError(r);
    auto j = nlohmann::json::parse(r.out);
    for (const auto& m : j.at("maps")) {
        s.memlock[m.at("name").get<std::string>()] = m.at("memlock_bytes").get<uint64_t>();
        if (m.contains("memory_estimate_bytes"))
            s.memlock[m.at("name").get<std::string>() + " estimate"] = m.at("memory_estimate_bytes").get<uint64_t>();
    }
    s.memlock["total"] = j.at("memlock_bytes").get<uint64_t>();
    if (maps_out) *maps_out = j.at("maps");
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

MemoryReport measure_table_memory(const MemoryOptions& o) {
    MemoryReport rep;
    Steps steps(rep, o.verbose);
    net::Lab::cleanup_orphans("xlb");
    LiveTopology topo(-1);
    steps.add("before the daemon", 0);
    {
        lab::ScratchDataPlane scratch(o.xdpd_binary, topo.rx().name(), lab::DaemonPaths::for_name(topo.rx().name()));
        const auto& p = scratch.paths();
        std::ofstream(p.config) << live_xdpd_config(topo.rx_if(), p.socket, p.bpffs, XdpdSetup::fw);
        auto t = Clock::now();
        lab::DaemonProcess daemon(o.xdpd_binary, topo.rx().name(), p);
        UniqueFd buckets = open_pin(p.bpffs + "/xdpd_buckets");
        UniqueFd bans = open_pin(p.bpffs + "/xdpd_bans");
        auto counts = [&](MemoryStep& s) {
            s.bucket_entries = bpf::count_entries(bpf::MapRef(buckets.get(), "xdpd_buckets"));
            s.ban_entries = bpf::count_entries(bpf::MapRef(bans.get(), "xdpd_bans"));
        };
        {
            auto& s = steps.add("daemon started (maps created)", since(t));
            read_status(daemon, s, nullptr);
            counts(s);
        }

        t = Clock::now();
        {
            std::vector<xdpd_bucket_key> keys(o.buckets);
            std::vector<xdpd_bucket> values(o.buckets);
            for (uint32_t i = 0; i < o.buckets; ++i) {
                keys[i] = {};
                v4_mapped(keys[i].addr, 0x0a000000u + i);  // 10.0.0.0 + i: one bucket per source
                keys[i].limit = 0;
                keys[i].level = XDPD_LIM_SOURCE;
                values[i] = {1, 1};
            }
            insert_all(buckets.get(), keys, values);
        }
        {
            auto& s = steps.add(fmt::format("{} buckets inserted", o.buckets), since(t));
            read_status(daemon, s, nullptr);
            counts(s);
        }

        t = Clock::now();
        {
            std::vector<xdpd_lpm_key> keys(o.bans);
            std::vector<xdpd_ban> values(o.bans);
            for (uint32_t i = 0; i < o.bans; ++i) {
                keys[i] = {};
                keys[i].prefixlen = 96 + 32;
                v4_mapped(keys[i].addr, 0x0b000000u + i);  // 11.0.0.0 + i, /32
                values[i] = {};
                values[i].origin = XDPD_ORIGIN_API;
                std::snprintf(values[i].reason, sizeof values[i].reason, "xdpd-livebench --memory");
            }
            insert_all(bans.get(), keys, values);
            // What the daemon's ban list would have counted (status reads it).
            auto rt_map = bpf::MapRef::open_pinned(p.bpffs + "/xdpd_runtime", "xdpd_runtime");
            bpf::RuntimeView rt(rt_map);
            rt.store(rt->n_bans, rt.load(rt->n_bans) + o.bans);
        }
        {
            auto& s = steps.add(fmt::format("{} /32 bans inserted", o.bans), since(t));
            read_status(daemon, s, &rep.status_maps);
            counts(s);
        }
        t = Clock::now();
        buckets.reset();
        bans.reset();
        daemon.stop();
        // scratch's destructor removes the pins: the maps go with their last reference.
    }
    steps.add("daemon stopped, data plane removed", 0);
    return rep;
}

std::string render_memory_table(const MemoryReport& r, const MemoryOptions& o) {
    (void)o;
    std::string s = "xdpd-livebench --memory: xdpd's tables filled, `xdpd status` memlock vs the kernel's accounting\n\n";
    auto kb = [](const MemoryStep& st, const char* k) {
        auto it = st.meminfo_kb.find(k);
        return it == st.meminfo_kb.end() ? 0.0 : double(it->second);
    };
    auto ml = [](const MemoryStep& st, const std::string& k) {
        auto it = st.memlock.find(k);
        return it == st.memlock.end() ? std::string("-") : fmt::format("{:.1f}", double(it->second) / 1048576);
    };
    s += fmt::format("{:<36} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}\n", "step", "buckets", "bans",
                     "memlock", "memlock", "memlock", "VmallocU", "SUnrecl", "Percpu");
    s += fmt::format("{:<36} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}\n", "", "entries", "entries",
                     "buckets", "bans", "total", "MiB", "MiB", "MiB");
    s += std::string(120, '-') + "\n";
    for (const auto& st : r.steps)
        s += fmt::format("{:<36} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10.1f} {:>10.1f} {:>10.1f}\n", st.name,
                         st.memlock.empty() ? std::string("-") : std::to_string(st.bucket_entries),
                         st.memlock.empty() ? std::string("-") : std::to_string(st.ban_entries),
                         ml(st, "xdpd_buckets"), ml(st, "xdpd_bans"), ml(st, "total"), kb(st, "VmallocUsed") / 1024,
                         kb(st, "SUnreclaim") / 1024, kb(st, "Percpu") / 1024);
    if (r.steps.size() == 5) {
        const auto &base = r.steps[0], &up = r.steps[1], &bk = r.steps[2], &bn = r.steps[3], &gone = r.steps[4];
        auto kernel_mib = [&](const MemoryStep& a, const MemoryStep& b) {
            return (kb(b, "VmallocUsed") - kb(a, "VmallocUsed") + kb(b, "SUnreclaim") - kb(a, "SUnreclaim") +
                    kb(b, "Percpu") - kb(a, "Percpu")) /
                   1024;
        };
        auto mib = [](uint64_t b) { return double(b) / 1048576; };
        s += "\ndeltas (kernel = VmallocUsed + SUnreclaim + Percpu, system-wide: other work on the machine adds noise):\n";
        s += fmt::format("  daemon start: memlock total {:.1f} MiB; kernel +{:.1f} MiB\n", mib(up.memlock.at("total")),
                         kernel_mib(base, up));
        s += fmt::format("  bucket fill:  memlock xdpd_buckets {:.1f} -> {:.1f} MiB; kernel {:+.1f} MiB; {} of {} inserted "
                         "keys present\n",
                         mib(up.memlock.at("xdpd_buckets")), mib(bk.memlock.at("xdpd_buckets")), kernel_mib(up, bk),
                         bk.bucket_entries, o.buckets);
        s += fmt::format("  ban fill:     memlock xdpd_bans {:.1f} -> {:.1f} MiB, `xdpd status` estimate {:.1f} MiB; "
                         "kernel {:+.1f} MiB; {} of {} inserted bans present\n",
                         mib(bk.memlock.at("xdpd_bans")), mib(bn.memlock.at("xdpd_bans")),
                         mib(bn.memlock.count("xdpd_bans estimate") ? bn.memlock.at("xdpd_bans estimate") : 0),
                         kernel_mib(bk, bn),
                         bn.ban_entries, o.bans);
        s += fmt::format("  teardown:     memlock total was {:.1f} MiB; kernel {:+.1f} MiB\n",
                         mib(bn.memlock.at("total")), kernel_mib(bn, gone));
        s += "slab caches that grew most during the ban fill (objects, MiB):\n";
        std::vector<std::pair<double, std::string>> grew;
        for (const auto& [name, n] : bn.slab_objs) {
            auto it = bk.slab_objs.find(name);
            double d = double(n) - (it == bk.slab_objs.end() ? 0.0 : double(it->second));
            if (d > 0) grew.push_back({d * double(bn.slab_size.at(name)), name});
        }
        std::sort(grew.rbegin(), grew.rend());
        for (size_t i = 0; i < grew.size() && i < 3; ++i) {
            const auto& name = grew[i].second;
            double objs = grew[i].first / double(bn.slab_size.at(name));
            s += fmt::format("  {:<20} {:>+10.0f} objects of {} B = {:+.1f} MiB ({:.2f} per ban)\n", name, objs,
                             bn.slab_size.at(name), grew[i].first / 1048576, objs / double(std::max<uint64_t>(1, bn.ban_entries)));
        }
    }
    return s;
}

nlohmann::json render_memory_json(const MemoryReport& r) {
    nlohmann::json j;
    j["steps"] = nlohmann::json::array();
    for (const auto& st : r.steps)
        j["steps"].push_back({{"step", st.name},
                              {"seconds", st.seconds},
                              {"meminfo_kb", st.meminfo_kb},
                              {"memlock_bytes", st.memlock},
                              {"bucket_entries", st.bucket_entries},
                              {"ban_entries", st.ban_entries}});
    j["status_maps_after_fill"] = r.status_maps;
    return j;
}

}  // namespace xdpd::bench
