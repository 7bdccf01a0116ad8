#include "bpf/load.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "bpf/libbpf_log.hpp"

namespace xdpd::bpf {

void load_explained(const std::function<int()>& load, const std::string& what,
                    const std::string& features) {
    LibbpfLogCapture log;
    int rc = load();
    if (rc == 0) return;
    int err = rc < 0 ? -rc : errno;
    throw LoadError(fmt::format(
        "the kernel rejected {} with features [{}]: {}\nlast lines of the libbpf/verifier log:\n{}",
        what, features, std::strerror(err), log.tail()));
}

}  // namespace xdpd::bpf
