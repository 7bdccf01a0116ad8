#include "attach/xdp_link.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <unistd.h>

#include "util/error.hpp"

namespace xdpd::attach {
namespace {

__u32 flags_for(Mode m) {
    switch (m) {
    case Mode::native: return XDP_FLAGS_DRV_MODE;
    case Mode::skb: return XDP_FLAGS_SKB_MODE;
    case Mode::hw: return XDP_FLAGS_HW_MODE;
    case Mode::automatic: return XDP_FLAGS_DRV_MODE;
    }
    return 0;
}

__u32 mode_of_attach(__u8 attach_mode) {
    switch (attach_mode) {
    case XDP_ATTACHED_DRV: return XDPD_MODE_NATIVE;
    case XDP_ATTACHED_SKB: return XDPD_MODE_SKB;
    case XDP_ATTACHED_HW: return XDPD_MODE_HW;
    default: return XDPD_MODE_NONE;
    }
}

bpf_link_info link_info(int fd) {
    bpf_link_info info{};
    __u32 len = sizeof info;
    check(bpf_obj_get_info_by_fd(fd, &info, &len), "query bpf_link");
    return info;
}

std::string prog_name(__u32 id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return "?";
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len)) return "?";
    return info.name;
}

// The id of the XDP bpf_link on ifindex, 0 if none.
// The bpf_link holding prog_id on ifindex, or 0 (attached through netlink).
// Link ids are global but ifindexes are per network namespace: an XDP link
// of another namespace can carry the same ifindex, so the program must match
// too (else we would "take over" a link on someone else's interface).
__u32 find_link(int ifindex, __u32 prog_id) {
    __u32 id = 0;
    while (bpf_link_get_next_id(id, &id) == 0) {
        UniqueFd fd(bpf_link_get_fd_by_id(id));
        if (!fd) continue;
        bpf_link_info info{};
        __u32 len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd.get(), &info, &len)) continue;
        if (info.type == BPF_LINK_TYPE_XDP && int(info.xdp.ifindex) == ifindex && info.prog_id == prog_id)
            return id;
    }
    return 0;
}

void pin(int fd, const std::string& path, const std::string& ifname) {
    unlink(path.c_str());  // a stale pin of a dead link
    check(bpf_obj_pin(fd, path.c_str()), "pin XDP link of " + ifname + " at " + path);
}

}  // namespace

const char* to_string(Mode m) {
    switch (m) {
    case Mode::native: return "native";
    case Mode::skb: return "skb";
    case Mode::hw: return "hw";
    case Mode::automatic: return "auto";
    }
    return "?";
}

const char* mode_name(__u32 m) {
    switch (m) {
    case XDPD_MODE_NATIVE: return "native";
    case XDPD_MODE_SKB: return "skb";
    case XDPD_MODE_HW: return "hw";
    default: return "none";
    }
}

std::optional<Mode> parse_mode(const std::string& s) {
    for (Mode m : {Mode::native, Mode::skb, Mode::hw, Mode::automatic})
        if (s == to_string(m)) return m;
    return std::nullopt;
}

std::string Occupant::describe() const {
    return fmt::format("program '{}' (id {}, {} mode, {})", prog_name, prog_id, mode_name(mode),
                       link_id ? fmt::format("bpf_link {}", link_id) : std::string("netlink"));
}

std::optional<Occupant> occupant(int ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    check(bpf_xdp_query(ifindex, 0, &q), fmt::format("query XDP on ifindex {}", ifindex));
    if (!q.prog_id && !q.drv_prog_id && !q.skb_prog_id && !q.hw_prog_id) return std::nullopt;
    Occupant o;
    o.prog_id = q.prog_id ? q.prog_id : q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
    o.mode = q.attach_mode == XDP_ATTACHED_MULTI ? __u32(XDPD_MODE_NATIVE) : mode_of_attach(q.attach_mode);
    o.prog_name = prog_name(o.prog_id);
    o.link_id = find_link(ifindex, o.prog_id);
    return o;
}

XdpLink XdpLink::create(int prog_fd, int ifindex, const std::string& ifname, Mode mode,
                        const std::string& pin_path, bool replace, std::string* note) {
    if (auto occ = occupant(ifindex)) {
        if (!replace)
            throw std::runtime_error(fmt::format(
                "{} already runs XDP {}; stop its owner first (e.g. `xdp-loader unload {} --all`), "
                "or let xdpd replace it (xdpd run --replace)",
                ifname, occ->describe(), ifname));
        if (occ->link_id) {  // atomic takeover of someone else's link
            UniqueFd fd(bpf_link_get_fd_by_id(occ->link_id));
            if (!fd) throw SysError(fmt::format("open bpf_link {} on {}", occ->link_id, ifname), errno);
            check(bpf_link_update(fd.get(), prog_fd, nullptr),
                  "replace the program of bpf_link on " + ifname);
            pin(fd.get(), pin_path, ifname);
            if (note) *note = "took over " + occ->describe();
            return XdpLink(std::move(fd), pin_path);
        }
        __u32 f = occ->mode == XDPD_MODE_SKB ? XDP_FLAGS_SKB_MODE
                  : occ->mode == XDPD_MODE_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
        check(bpf_xdp_detach(ifindex, f, nullptr), "detach " + occ->describe() + " from " + ifname);
        if (note) *note = "replaced " + occ->describe();
    }

    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags_for(mode));
    int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
    if (fd < 0 && mode == Mode::automatic) {
        int err = errno;
        opts.flags = XDP_FLAGS_SKB_MODE;
        fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
        if (fd >= 0 && note)
            *note += (note->empty() ? "" : "; ") +
                     fmt::format("native mode refused by {} ({}), using skb (generic) mode", ifname,
                                 std::strerror(err));
    }
    if (fd < 0)
        throw SysError(fmt::format("attach XDP to {} in {} mode", ifname, to_string(mode)), errno);
    UniqueFd owned(fd);
    pin(fd, pin_path, ifname);
    return XdpLink(std::move(owned), pin_path);
}

std::optional<XdpLink> XdpLink::open_pinned(const std::string& pin_path) {
    if (access(pin_path.c_str(), F_OK) != 0) return std::nullopt;
    int fd = bpf_obj_get(pin_path.c_str());
    if (fd < 0) throw SysError("open pinned link " + pin_path, errno);
    return XdpLink(UniqueFd(fd), pin_path);
}

void XdpLink::update(int prog_fd) {
    check(bpf_link_update(fd_.get(), prog_fd, nullptr), "swap program of link " + pin_);
}

void XdpLink::detach() {
    if (bpf_link_detach(fd_.get()) && errno != ENOLINK && errno != EINVAL)
        throw SysError("detach link " + pin_, errno);
    if (unlink(pin_.c_str()) && errno != ENOENT) throw SysError("remove pin " + pin_, errno);
}

__u32 XdpLink::ifindex() const { return link_info(fd_.get()).xdp.ifindex; }
__u32 XdpLink::prog_id() const { return link_info(fd_.get()).prog_id; }
__u32 XdpLink::link_id() const { return link_info(fd_.get()).id; }

__u32 XdpLink::mode() const {
    __u32 idx = ifindex();
    if (!idx) return XDPD_MODE_NONE;
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(int(idx), 0, &q)) return XDPD_MODE_NONE;
    return mode_of_attach(q.attach_mode);
}

}  // namespace xdpd::attach
