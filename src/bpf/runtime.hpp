// Mmapped views of BPF_F_MMAPABLE array maps: the runtime switches (active
// rule-set generation, monitor mode) change with single atomic stores, and the
// firewall's Bloom filter is written as plain memory.
#pragma once
#include "bpf/map.hpp"
#include "xdpd/abi.h"

namespace xdpd::bpf {

// The whole value area of an mmapable array map.
class MappedArray {
public:
    explicit MappedArray(const MapRef& m);
    MappedArray(MappedArray&&) noexcept;
    MappedArray& operator=(MappedArray&&) = delete;
    MappedArray(const MappedArray&) = delete;
    ~MappedArray();

    void* data() const { return p_; }
    size_t size() const { return len_; }

private:
    void* p_ = nullptr;
    size_t len_ = 0;
};

// xdpd_runtime, typed.
class RuntimeView {
public:
    explicit RuntimeView(const MapRef& runtime_map) : m_(runtime_map) {}

    xdpd_runtime* get() const { return static_cast<xdpd_runtime*>(m_.data()); }
    xdpd_runtime* operator->() const { return get(); }

    __u32 load(const __u32& field) const { return __atomic_load_n(&field, __ATOMIC_ACQUIRE); }
    void store(__u32& field, __u32 v) const { __atomic_store_n(&field, v, __ATOMIC_RELEASE); }

private:
    MappedArray m_;
};

// Waits until every XDP program run that started before the call has ended
// (an RCU grace period, through membarrier(2)); falls back to a 50 ms sleep.
void wait_for_readers();

}  // namespace xdpd::bpf
