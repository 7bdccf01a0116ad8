// Typed access to BPF maps: Map<K, V> for plain maps, PerCpuMap<K, V> for
// per-CPU maps (values summed or returned per CPU). Each map is named in errors.
#pragma once
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace xdpd::bpf {

int possible_cpus();

// A map fd with its name, owned (opened from a pin) or borrowed (from a skeleton).
class MapRef {
public:
    MapRef() = default;
    MapRef(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    static MapRef open_pinned(const std::string& path, std::string name);

    int fd() const { return owned_ ? owned_.get() : fd_; }
    const std::string& name() const { return name_; }
    explicit operator bool() const { return fd() >= 0; }

private:
    int fd_ = -1;
    UniqueFd owned_;
    std::string name_;
};

// Entries in a map: batch lookups where the map supports them (hash, LRU),
// else a walk of its keys. Reads ~50 MB/s: a full 1M-entry table takes a
// fraction of a second.
size_t count_entries(const MapRef& m);
// Calls fn for every entry (batch reads; a key walk where the map has none).
// Not for per-CPU maps.
void for_each_entry(const MapRef& m, const std::function<void(const void* key, const void* value)>& fn);

template <typename K, typename V>
class Map {
public:
    explicit Map(const MapRef& m) : m_(&m) {}

    std::optional<V> lookup(const K& key) const {
        V v{};
        if (bpf_map_lookup_elem(m_->fd(), &key, &v) == 0) return v;
        if (errno == ENOENT) return std::nullopt;
        throw SysError("lookup in map " + m_->name(), errno);
    }
    void update(const K& key, const V& value, __u64 flags = BPF_ANY) {
        check(bpf_map_update_elem(m_->fd(), &key, &value, flags), "update map " + m_->name());
    }
    bool erase(const K& key) {
        if (bpf_map_delete_elem(m_->fd(), &key) == 0) return true;
        if (errno == ENOENT) return false;
        throw SysError("delete from map " + m_->name(), errno);
    }
    std::vector<K> keys() const {
        std::vector<K> out;
        K cur{}, next{};
        const K* prev = nullptr;
        while (bpf_map_get_next_key(m_->fd(), prev, &next) == 0) {
            out.push_back(next);
            cur = next;
            prev = &cur;
        }
        return out;
    }

private:
    const MapRef* m_;
};

// Per-CPU values: one V per possible CPU.
template <typename K, typename V>
class PerCpuMap {
public:
    explicit PerCpuMap(const MapRef& m) : m_(&m), ncpu_(possible_cpus()) {}

    std::vector<V> lookup_all(const K& key) const {
        std::vector<V> v(ncpu_);
        check(bpf_map_lookup_elem(m_->fd(), &key, v.data()) ? -errno : 0,
              "lookup in per-CPU map " + m_->name());
        return v;
    }
    void update_all(const K& key, const std::vector<V>& v) {
        check(bpf_map_update_elem(m_->fd(), &key, v.data(), BPF_ANY) ? -errno : 0,
              "update per-CPU map " + m_->name());
    }
    void zero(const K& key) { update_all(key, std::vector<V>(ncpu_)); }
    int cpus() const { return ncpu_; }

    // The entries 0..last (at least) of a per-CPU array, in batches of a few
    // syscalls (not one per index): fn(index, values) with one V per possible CPU.
    template <typename Fn>
    void for_each_index(__u32 last, Fn&& fn) const {
        static_assert(std::is_same_v<K, __u32> && sizeof(V) % 8 == 0, "per-CPU array of 8-byte-aligned values");
        constexpr __u32 kBatch = 4096;
        const __u32 n = std::min(kBatch, last + 1);
        std::vector<__u32> keys(n);
        std::vector<V> values(size_t(n) * ncpu_);
        __u32 token = 0, done = 0;  // array keys come in order: 0, 1, ...
        for (bool first = true;; first = false) {
            __u32 count = std::min(kBatch, last + 1 - std::min(done, last + 1));
            if (!count) return;
            LIBBPF_OPTS(bpf_map_batch_opts, opts);
            const int rc = bpf_map_lookup_batch(m_->fd(), first ? nullptr : &token, &token, keys.data(),
                                                values.data(), &count, &opts);
            const int err = rc ? errno : 0;
            if (rc && err != ENOENT) throw SysError("read per-CPU map " + m_->name(), err);
            for (__u32 i = 0; i < count; ++i) fn(keys[i], values.data() + size_t(i) * ncpu_);
            done += count;
            if (err == ENOENT || (count && keys[count - 1] >= last)) return;  // the last batch, or far enough
        }
    }

private:
    const MapRef* m_;
    int ncpu_;
};

}  // namespace xdpd::bpf
