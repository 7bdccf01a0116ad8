#include "bpf/libbpf_log.hpp"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <mutex>
#include <sstream>
#include <vector>

namespace xdpd::bpf {
namespace {

std::mutex g_mu;
std::string* g_capture = nullptr;

int print_fn(enum libbpf_print_level level, const char* fmt, va_list args) {
    // libbpf hands over the whole verifier log in one call: size the buffer to it.
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    if (n < 0) return 0;
    std::string s(size_t(n) + 1, '\0');
    vsnprintf(s.data(), s.size(), fmt, args);
    s.resize(size_t(n));
    std::lock_guard lk(g_mu);
    if (g_capture) {
        *g_capture += s;
        return 0;
    }
    while (!s.empty() && s.back() == '\n') s.pop_back();
    if (level == LIBBPF_WARN)
        spdlog::debug("libbpf: {}", s);
    else
        spdlog::trace("libbpf: {}", s);
    return 0;
}

thread_local std::string t_buffer;

}  // namespace

void install_libbpf_logger() { libbpf_set_print(print_fn); }

LibbpfLogCapture::LibbpfLogCapture() {
    install_libbpf_logger();
    std::lock_guard lk(g_mu);
    t_buffer.clear();
    g_capture = &t_buffer;
}

LibbpfLogCapture::~LibbpfLogCapture() {
    std::lock_guard lk(g_mu);
    g_capture = nullptr;
}

std::string LibbpfLogCapture::tail(int lines) const {
    std::lock_guard lk(g_mu);
    std::vector<std::string> all;
    std::istringstream in(t_buffer);
    for (std::string l; std::getline(in, l);) all.push_back(l);
    std::string out;
    for (size_t i = all.size() > size_t(lines) ? all.size() - lines : 0; i < all.size(); ++i)
        out += "  " + all[i] + "\n";
    return out;
}

}  // namespace xdpd::bpf
