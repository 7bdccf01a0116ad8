#include "capture/pcapng.hpp"

#include <cerrno>
#include <cstring>

#include "util/error.hpp"
#include "xdpd/abi.h"

namespace xdpd::capture {
namespace {

// pcapng (draft-ietf-opsawg-pcapng): block types and option codes.
constexpr uint32_t kShb = 0x0A0D0D0A, kIdb = 0x00000001, kEpb = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0, kOptComment = 1, kShbUserAppl = 4, kIfName = 2, kIfTsresol = 9;
constexpr uint16_t kLinkEthernet = 1;
// Classic pcap with nanosecond timestamps.
constexpr uint32_t kPcapNsMagic = 0xa1b23c4d;

constexpr size_t padded4(size_t n) { return (n + 3) & ~size_t(3); }
constexpr size_t option_size(size_t value_len) { return 4 + padded4(value_len); }
constexpr size_t kFlushAt = 256 * 1024;

}  // namespace

CaptureWriter::CaptureWriter(UniqueFd fd, std::string name, Format format, uint32_t snaplen, bool flush_each)
    : fd_(std::move(fd)), name_(std::move(name)), format_(format), snaplen_(snaplen), flush_each_(flush_each) {
    buf_.reserve(kFlushAt + 2 * (XDPD_CAPTURE_MAX_SNAP + 512));
    file_header();
    flush();  // readers of a pipe see a valid file at once
}

CaptureWriter::~CaptureWriter() {
    try {
        flush();
    } catch (...) {
    }
}

void CaptureWriter::put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    bytes_ += n;
}

void CaptureWriter::pad4() {
    static const uint8_t zero[4] = {};
    put(zero, (4 - bytes_ % 4) % 4);  // pcapng blocks start 4-aligned in the file
}

void CaptureWriter::file_header() {
    if (format_ == Format::pcap) {
        put32(kPcapNsMagic);
        put16(2);  // version 2.4
        put16(4);
        put32(0);  // thiszone
        put32(0);  // sigfigs
        put32(snaplen_);
        put32(kLinkEthernet);
        return;
    }
    static constexpr std::string_view appl = "xdpd capture";
    const uint32_t len = uint32_t(4 + 4 + 4 + 2 + 2 + 8 + option_size(appl.size()) + 4 + 4);
    put32(kShb);
    put32(len);
    put32(kByteOrderMagic);
    put16(1);  // version 1.0
    put16(0);
    const int64_t section_len = -1;  // unknown: written as a stream
    put(&section_len, 8);
    put16(kShbUserAppl);
    put16(uint16_t(appl.size()));
    put(appl.data(), appl.size());
    pad4();
    put16(kOptEnd);
    put16(0);
    put32(len);
}

uint32_t CaptureWriter::interface_id(uint32_t ifindex, std::string_view ifname) {
    if (auto it = ids_.find(ifindex); it != ids_.end()) return it->second;
    const uint32_t id = uint32_t(ids_.size());
    ids_.emplace(ifindex, id);
    const uint8_t tsresol = 9;  // 10^-9 s
    const uint32_t len = uint32_t(4 + 4 + 2 + 2 + 4 + option_size(ifname.size()) + option_size(1) + 4 + 4);
    put32(kIdb);
    put32(len);
    put16(kLinkEthernet);
    put16(0);
    put32(snaplen_);
    put16(kIfName);
    put16(uint16_t(ifname.size()));
    put(ifname.data(), ifname.size());
    pad4();
    put16(kIfTsresol);
    put16(1);
    put(&tsresol, 1);
    pad4();
    put16(kOptEnd);
    put16(0);
    put32(len);
    return id;
}

void CaptureWriter::write(const FilePacket& p) {
    const uint32_t caplen = uint32_t(p.data.size());
    if (format_ == Format::pcap) {
        put32(uint32_t(p.time_ns / 1000000000ull));
        put32(uint32_t(p.time_ns % 1000000000ull));
        put32(caplen);
        put32(p.len);
        put(p.data.data(), caplen);
    } else {
        const uint32_t id = interface_id(p.ifindex, p.ifname);
        const size_t comment = p.comment.size() > 65535 ? 65535 : p.comment.size();
        const uint32_t len = uint32_t(4 + 4 + 4 + 4 + 4 + 4 + 4 + padded4(caplen) +
                                      (comment ? option_size(comment) + 4 : 0) + 4);
        put32(kEpb);
        put32(len);
        put32(id);
        put32(uint32_t(p.time_ns >> 32));
        put32(uint32_t(p.time_ns));
        put32(caplen);
        put32(p.len);
        put(p.data.data(), caplen);
        pad4();
        if (comment) {
            put16(kOptComment);
            put16(uint16_t(comment));
            put(p.comment.data(), comment);
            pad4();
            put16(kOptEnd);
            put16(0);
        }
        put32(len);
    }
    ++packets_;
    if (flush_each_ || buf_.size() >= kFlushAt) flush();
}

void CaptureWriter::flush() {
    size_t off = 0;
    while (off < buf_.size()) {
        const ssize_t n = ::write(fd_.get(), buf_.data() + off, buf_.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            buf_.clear();
            if (err == EPIPE) throw OutputClosed("the reader of " + name_ + " went away");
            throw SysError("write " + name_, err);
        }
        off += size_t(n);
    }
    buf_.clear();
}

}  // namespace xdpd::capture
