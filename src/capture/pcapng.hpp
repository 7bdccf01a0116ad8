// Capture files: pcapng (one Interface Description Block per interface seen,
// nanosecond timestamps, a comment on every packet) and classic pcap
// (nanosecond magic 0xa1b23c4d, Ethernet, no comments) for older tools.
// Written to any fd; to a pipe or a terminal-less stdout every packet is
// flushed as it comes, so `xdpd capture -w - | tcpdump -r -` is live.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/fd.hpp"

namespace xdpd::capture {

enum class Format { pcapng, pcap };

// The reader of a pipe went away (EPIPE): the capture ends quietly.
class OutputClosed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One packet for the file.
struct FilePacket {
    uint64_t time_ns = 0;             // CLOCK_REALTIME, ns since the epoch
    uint32_t ifindex = 0;
    std::string_view ifname;          // the interface's name (pcapng: its IDB's if_name)
    uint32_t len = 0;                 // length on the wire
    std::span<const uint8_t> data;    // the captured bytes (<= len)
    std::string_view comment;         // pcapng: opt_comment; ignored by pcap
};

class CaptureWriter {
public:
    // fd: owned (closed at the end). name: for errors ("drops.pcapng", "stdout").
    // flush_each: write every packet through at once (pipes, stdout).
    CaptureWriter(UniqueFd fd, std::string name, Format format, uint32_t snaplen, bool flush_each);
    ~CaptureWriter();  // flushes what is buffered (errors ignored: call flush() first)
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    void write(const FilePacket& p);
    void flush();  // throws SysError, or OutputClosed on EPIPE

    uint64_t packets() const { return packets_; }
    uint64_t bytes() const { return bytes_; }  // file bytes written so far (buffered included)

private:
    void file_header();
    uint32_t interface_id(uint32_t ifindex, std::string_view ifname);  // pcapng: its IDB, written once
    void put(const void* p, size_t n);
    void put32(uint32_t v) { put(&v, 4); }
    void put16(uint16_t v) { put(&v, 2); }
    void pad4();

    UniqueFd fd_;
    std::string name_;
    Format format_;
    uint32_t snaplen_;
    bool flush_each_;
    std::vector<uint8_t> buf_;
    std::unordered_map<uint32_t, uint32_t> ids_;  // ifindex -> IDB number
    uint64_t packets_ = 0, bytes_ = 0;
};

}  // namespace xdpd::capture
