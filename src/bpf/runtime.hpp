// RuntimeView: the xdpd_runtime map mmapped, so switches (active rule-set
// generation, monitor mode) change with single atomic stores, no reload.
#pragma once
#include "bpf/map.hpp"
#include "xdpd/abi.h"

namespace xdpd::bpf {

class RuntimeView {
public:
    explicit RuntimeView(const MapRef& runtime_map);
    RuntimeView(RuntimeView&&) noexcept;
    RuntimeView& operator=(RuntimeView&&) = delete;
    RuntimeView(const RuntimeView&) = delete;
    ~RuntimeView();

    xdpd_runtime* get() const { return rt_; }
    xdpd_runtime* operator->() const { return rt_; }

    __u32 load(const __u32& field) const { return __atomic_load_n(&field, __ATOMIC_ACQUIRE); }
    void store(__u32& field, __u32 v) const { __atomic_store_n(&field, v, __ATOMIC_RELEASE); }

private:
    xdpd_runtime* rt_ = nullptr;
    size_t len_ = 0;
};

// Waits until every XDP program run that started before the call has ended
// (an RCU grace period, through membarrier(2)); falls back to a 50 ms sleep.
void wait_for_readers();

}  // namespace xdpd::bpf
