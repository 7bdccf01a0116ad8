#include "capture/session.hpp"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "util/error.hpp"

namespace xdpd::capture {
namespace {

// "xdpd capture -w x.pcapng" from /proc/PID/cmdline, or "" when unreadable.
std::string command_line(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!s.empty() && s.back() == '\0') s.pop_back();
    for (char& c : s)
        if (c == '\0') c = ' ';
    return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}

bpf::MapRef open_map(const std::string& dir, const char* name) {
    const std::string path = dir + "/" + name;
    try {
        return bpf::MapRef::open_pinned(path, name);
    } catch (const SysError& e) {
        if (e.code() != ENOENT) throw;
        struct stat st {};
        if (stat((dir + "/xdpd_stats").c_str(), &st) != 0)
            throw std::runtime_error(fmt::format(
                "no xdpd data plane is pinned at {}: start it with `xdpd run -c CONFIG` (or give the "
                "directory it pins to with --bpffs)",
                dir));
        throw std::runtime_error(fmt::format(
            "the data plane pinned at {} has no {} map: it was loaded by an xdpd without capture; restart "
            "the daemon with this version (`xdpd run`) to load the current data plane",
            dir, name));
    }
}

int64_t ns(const timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

bool Session::alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Session::Claim::Claim(xdpd_observe* o) : o_(o) {
    const __u32 self = __u32(getpid());
    for (;;) {
        __u32 owner = __atomic_load_n(&o_->capture_owner, __ATOMIC_ACQUIRE);
        if (owner == self)
            throw CaptureBusy(pid_t(owner), "this process already runs a capture on this data plane");
        if (owner && alive(pid_t(owner))) {
            const std::string cmd = command_line(pid_t(owner));
            throw CaptureBusy(pid_t(owner),
                              fmt::format("another capture is running: pid {}{}; the data plane runs one capture "
                                          "at a time. Stop it (kill {}) or wait until it ends",
                                          owner, cmd.empty() ? "" : " (" + cmd + ")", owner));
        }
        // Free, or its owner is gone (taken over): make it ours.
        if (__atomic_compare_exchange_n(&o_->capture_owner, &owner, self, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    // A dead owner's capture may still be on: off until our config is written.
    __atomic_store_n(&o_->capture, 0u, __ATOMIC_RELEASE);
}

void Session::Claim::off() { __atomic_store_n(&o_->capture, 0u, __ATOMIC_RELEASE); }

void Session::Claim::release() {
    if (!held_) return;
    held_ = false;
    __u32 self = __u32(getpid());
    __atomic_compare_exchange_n(&o_->capture_owner, &self, 0u, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

Session::Claim::~Claim() {
    off();
    release();
}

void Session::PerfBufferDeleter::operator()(perf_buffer* pb) const { perf_buffer__free(pb); }

Session::Session(const std::string& bpffs, const SessionConfig& cfg, OnRecord on_record)
    : observe_(open_map(bpffs, "xdpd_observe")),
      observe_cpu_(open_map(bpffs, "xdpd_observe_cpu")),
      events_(open_map(bpffs, "xdpd_capture_events")),
      observe_mem_(observe_),
      obs_(static_cast<xdpd_observe*>(observe_mem_.data())),
      on_record_(std::move(on_record)) {
    if (cfg.snaplen < 1 || cfg.snaplen > kMaxSnap)
        throw std::invalid_argument(fmt::format("snap length {} is not in 1-{}", cfg.snaplen, kMaxSnap));
    if (cfg.sample < 1) throw std::invalid_argument("sample rate must be at least 1 (1 in N packets)");
    if (!cfg.buffer_pages || (cfg.buffer_pages & (cfg.buffer_pages - 1)))
        throw std::invalid_argument("perf buffer pages must be a power of 2");
    if (observe_mem_.size() < sizeof(xdpd_observe))
        throw std::runtime_error("xdpd_observe is smaller than this xdpd's struct xdpd_observe: another version's "
                                 "data plane; restart the daemon with this version");

    claim_ = std::make_unique<Claim>(obs_);
    // libbpf's default perf buffer wakes the reader for every record: an
    // interrupt per captured packet (6.5 us each on a VM, docs/benchmarks.md).
    // Woken at a quarter full instead; poll() reads what is there after each
    // timeout, so a slow capture still shows its packets within the timeout.
    perf_event_attr attr{};
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_BPF_OUTPUT;
    attr.sample_type = PERF_SAMPLE_RAW;
    attr.sample_period = 1;
    attr.watermark = 1;
    attr.wakeup_watermark = __u32(cfg.buffer_pages * size_t(sysconf(_SC_PAGESIZE)) / 4);
    perf_buffer* pb = perf_buffer__new_raw(events_.fd(), cfg.buffer_pages, &attr, &Session::on_event, this, nullptr);
    if (!pb) throw SysError("open a perf buffer on " + bpffs + "/xdpd_capture_events", errno ? errno : EINVAL);
    pb_.reset(pb);

    base_ = read_counters();
    refresh_clock();
    // The configuration first, the switch last: a packet that sees capture = 1
    // sees this filter.
    obs_->filter = cfg.filter;
    obs_->capture_sample = cfg.sample;
    obs_->capture_snaplen = cfg.snaplen;
    __atomic_store_n(&obs_->capture, 1u, __ATOMIC_RELEASE);
}

Session::~Session() { stop(); }

void Session::stop() {
    if (stopped_) return;
    stopped_ = true;
    claim_->off();
    // Programs that read capture = 1 before the store may still be running:
    // after a grace period every record they sent is in the buffer.
    bpf::wait_for_readers();
    try {
        final_ = read_counters();
    } catch (const std::exception&) {
        final_ = base_;  // unreadable now: report no packets rather than fail the end
    }
    if (pb_ && !error_) {
        const int n = perf_buffer__consume(pb_.get());
        (void)n;
    }
    pb_.reset();  // its fds leave the map before another capture may claim it
    claim_->release();
}

bool Session::active() const {
    return !stopped_ && __atomic_load_n(&obs_->capture, __ATOMIC_ACQUIRE) == 1 &&
           __atomic_load_n(&obs_->capture_owner, __ATOMIC_ACQUIRE) == __u32(getpid());
}

void Session::rethrow_error() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

int Session::poll(int timeout_ms) {
    if (!pb_) return 0;
    if (std::chrono::steady_clock::now() - clock_at_ > std::chrono::seconds(1)) refresh_clock();
    int n = perf_buffer__poll(pb_.get(), timeout_ms);
    rethrow_error();
    if (n == -EINTR) return 0;
    if (n < 0) throw SysError("read the capture perf buffer", -n);
    if (n == 0) {  // below the wakeup watermark: read what is there anyway
        n = perf_buffer__consume(pb_.get());
        rethrow_error();
        if (n < 0) throw SysError("read the capture perf buffer", -n);
    }
    return n;
}

void Session::on_sample(void* ctx, int, void* data, __u32 size) {
    auto* s = static_cast<Session*>(ctx);
    if (s->error_) return;  // on_record failed: nothing more is handed over
    xdpd_capture_hdr h;
    if (size < sizeof h) {
        ++s->bad_records_;
        return;
    }
    std::memcpy(&h, data, sizeof h);  // the record is 4-byte aligned only
    if (size - sizeof h < h.caplen) {
        ++s->bad_records_;
        return;
    }
    try {
        s->on_record_(h, std::span<const uint8_t>(static_cast<const uint8_t*>(data) + sizeof h, h.caplen));
    } catch (...) {
        s->error_ = std::current_exception();
    }
}

void Session::on_lost(void* ctx, int, __u64 count) { static_cast<Session*>(ctx)->lost_records_ += count; }

// A raw perf record: a sample (u32 size, then the data) or a count of lost ones.
enum bpf_perf_event_ret Session::on_event(void* ctx, int cpu, perf_event_header* e) {
    if (e->type == PERF_RECORD_SAMPLE) {
        struct Sample {
            perf_event_header header;
            __u32 size;
            char data[];
        };
        auto* rec = reinterpret_cast<Sample*>(e);
        on_sample(ctx, cpu, rec->data, rec->size);
    } else if (e->type == PERF_RECORD_LOST) {
        struct Lost {
            perf_event_header header;
            __u64 id, lost;
        };
        on_lost(ctx, cpu, reinterpret_cast<Lost*>(e)->lost);
    }
    return LIBBPF_PERF_EVENT_CONT;
}

CaptureCounters Session::read_counters() const {
    bpf::PerCpuMap<__u32, xdpd_observe_cpu> m(observe_cpu_);
    CaptureCounters c;
    for (const auto& v : m.lookup_all(0)) {
        c.seen += v.capture_seen;
        c.sent += v.capture_sent;
        c.lost += v.capture_lost;
    }
    return c;
}

CaptureCounters Session::counters() const {
    const CaptureCounters now = stopped_ ? final_ : read_counters();
    return {now.seen - base_.seen, now.sent - base_.sent, now.lost - base_.lost};
}

void Session::refresh_clock() {
    timespec m1{}, r{}, m2{};
    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    mono_to_real_ns_ = ns(r) - (ns(m1) + ns(m2)) / 2;
    clock_at_ = std::chrono::steady_clock::now();
}

uint64_t Session::realtime_ns(uint64_t monotonic_ns) const { return uint64_t(int64_t(monotonic_ns) + mono_to_real_ns_); }

}  // namespace xdpd::capture
