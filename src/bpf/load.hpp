// Loading BPF objects so that a rejection explains itself: the error names the
// object, the load-time features that were on, the errno, and the last lines
// of the verifier's log (where its reason is).
#pragma once
#include <functional>
#include <stdexcept>
#include <string>

namespace xdpd::bpf {

class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Calls load() (e.g. a skeleton's __load) with libbpf's log captured; throws
// LoadError when it returns non-zero.
void load_explained(const std::function<int()>& load, const std::string& what,
                    const std::string& features);

}  // namespace xdpd::bpf
