// XdpLink: our program held on one interface by a bpf_link pinned in bpffs.
// The pin keeps the data plane attached when the daemon exits or crashes; a
// restarted daemon opens the pin and swaps programs atomically (no packet ever
// sees "no program"). An interface owned by someone else is left alone unless
// the caller asks to replace it.
#pragma once
#include <linux/types.h>

#include <optional>
#include <string>

#include "util/fd.hpp"
#include "xdpd/abi.h"

namespace xdpd::attach {

enum class Mode { native, skb, hw, automatic };

const char* to_string(Mode m);
const char* mode_name(__u32 xdpd_mode);  // "native", "skb", "hw", "none"
std::optional<Mode> parse_mode(const std::string& s);

// Whatever XDP program an interface runs now.
struct Occupant {
    __u32 prog_id = 0;
    __u32 mode = XDPD_MODE_NONE;  // enum xdpd_mode
    std::string prog_name;
    __u32 link_id = 0;            // 0: attached through netlink, not a bpf_link
    std::string describe() const; // "program 'xdp_dispatcher' (id 42, native mode, netlink)"
};
std::optional<Occupant> occupant(int ifindex);

class XdpLink {
public:
    // Attaches prog_fd to ifindex and pins the link at pin_path. With `replace`,
    // takes over an interface that another program owns (atomically when that
    // program is held by a bpf_link). `note` receives what happened in words
    // (e.g. "native mode unsupported by veth0, fell back to skb").
    static XdpLink create(int prog_fd, int ifindex, const std::string& ifname, Mode mode,
                          const std::string& pin_path, bool replace, std::string* note = nullptr);
    // Opens a pinned link; nullopt when there is no pin.
    static std::optional<XdpLink> open_pinned(const std::string& pin_path);

    void update(int prog_fd);  // atomic program swap
    void detach();             // take the program off the interface and remove the pin

    __u32 ifindex() const;     // 0 when the interface is gone
    __u32 prog_id() const;
    __u32 link_id() const;
    __u32 mode() const;        // enum xdpd_mode in use, from the kernel
    const std::string& pin_path() const { return pin_; }

private:
    XdpLink(UniqueFd fd, std::string pin) : fd_(std::move(fd)), pin_(std::move(pin)) {}
    UniqueFd fd_;
    std::string pin_;
};

}  // namespace xdpd::attach
