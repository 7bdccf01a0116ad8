#include "util/netns.hpp"

#include <fcntl.h>
#include <sched.h>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace xdpd::util {

void enter_netns(const std::string& name) {
    std::string path = name.find('/') == std::string::npos ? "/run/netns/" + name : name;
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw SysError("open network namespace " + path, errno);
    if (setns(fd.get(), CLONE_NEWNET) != 0) throw SysError("enter network namespace " + name, errno);
}

}  // namespace xdpd::util
