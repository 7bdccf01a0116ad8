#include "bpf/map.hpp"

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

}  // namespace xdpd::bpf
