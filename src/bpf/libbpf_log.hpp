// Captures what libbpf prints (the verifier's log among it) while a program
// loads, so that a failed load can say why.
#pragma once
#include <string>

namespace xdpd::bpf {

class LibbpfLogCapture {
public:
    LibbpfLogCapture();
    ~LibbpfLogCapture();
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

    // The last `lines` lines captured: the verifier's verdict sits at the end.
    std::string tail(int lines = 25) const;
};

// Routes libbpf's messages to the log (debug level) outside captures.
void install_libbpf_logger();

}  // namespace xdpd::bpf
