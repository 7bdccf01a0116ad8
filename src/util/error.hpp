// Errors: exceptions that name the object and carry the errno.
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace xdpd {

// A system call failed on a named object: "attach xdpd to eth0: Device or resource busy (errno 16)".
class SysError : public std::runtime_error {
public:
    SysError(const std::string& what, int err)
        : std::runtime_error(what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")"),
          err_(err) {}
    int code() const noexcept { return err_; }

private:
    int err_;
};

// Throws SysError when a libbpf-style call returned a negative errno (or -1 with errno set).
inline int check(int rc, const std::string& what) {
    if (rc < 0) throw SysError(what, rc == -1 && errno ? errno : -rc);
    return rc;
}

}  // namespace xdpd
