#include "bpf/map.hpp"

#include <vector>

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

namespace xdpd::bpf {

int possible_cpus() {
    static const int n = [] {
        int c = libbpf_num_possible_cpus();
        if (c <= 0) throw SysError("count possible CPUs", c ? -c : EINVAL);
        return c;
    }();
    return n;
}

MapRef MapRef::open_pinned(const std::string& path, std::string name) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) throw SysError("open pinned map " + path, errno);
    MapRef m;
    m.owned_.reset(fd);
    m.name_ = std::move(name);
    return m;
}

void for_each_entry(const MapRef& m, const std::function<void(const void* key, const void* value)>& fn) {
    bpf_map_info info{};
    __u32 len = sizeof info;
    check(bpf_obj_get_info_by_fd(m.fd(), &info, &len), "get info of map " + m.name());
    constexpr __u32 kBatch = 8192;
    std::vector<char> keys(size_t(kBatch) * info.key_size), values(size_t(kBatch) * info.value_size);
    std::vector<char> token(info.key_size);
    bool first = true;
    for (;;) {
        __u32 count = kBatch;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        int rc = bpf_map_lookup_batch(m.fd(), first ? nullptr : token.data(), token.data(), keys.data(),
                                      values.data(), &count, &opts);
        const int err = rc ? errno : 0;
        if (rc && err != ENOENT) {
            if (!first || (err != EINVAL && err != ENOTSUPP && err != EOPNOTSUPP))
                throw SysError("read entries of map " + m.name(), err);
            // No batch operations (e.g. LPM tries): walk the keys.
            std::vector<char> cur(info.key_size), next(info.key_size), value(info.value_size);
            const void* prev = nullptr;
            while (bpf_map_get_next_key(m.fd(), prev, next.data()) == 0) {
                if (bpf_map_lookup_elem(m.fd(), next.data(), value.data()) == 0) fn(next.data(), value.data());
                cur.swap(next);
                prev = cur.data();
            }
            return;
        }
        for (__u32 i = 0; i < count; ++i)
            fn(keys.data() + size_t(i) * info.key_size, values.data() + size_t(i) * info.value_size);
        first = false;
        if (err == ENOENT) return;  // that was the last batch
    }
}

size_t count_entries(const MapRef& m) {
    size_t n = 0;
    for_each_entry(m, [&](const void*, const void*) { ++n; });
    return n;
}

}  // namespace xdpd::bpf
