/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the pipeline. All are shared by the per-interface program
 * instances and pinned by the control plane, so they outlive the daemon. */
#ifndef XDPD_BPF_MAPS_H
#define XDPD_BPF_MAPS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xdpd_if_stats);
} xdpd_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpd_runtime);
} xdpd_runtime SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * XDPD_FW_MAX_TUPLES);
	__type(key, __u32);
	__type(value, struct xdpd_fw_tuple);
} xdpd_fw_tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPD_FW_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpd_fw_key);
	__type(value, struct xdpd_fw_entry);
} xdpd_fw_entries SEC(".maps");

/* What the firewall scan found: the best allow/deny rule, and up to
 * XDPD_FW_COUNT_CHAIN `count` rules seen on the way (fixed slots, not an
 * indexed array). Unused slots hold prio NONE and are never counted. */
struct fw_result {
	struct xdpd_fw_ref rule;   /* prio NONE when no rule matched             */
	__u32 action;
	__u32 limit;               /* the deciding rule's limit profile + 1      */
	__u32 steer;               /* the deciding rule's XDPD_STEER_*           */
	__u32 _pad;
	struct xdpd_fw_ref c0, c1, c2, c3;
};

/* Per-CPU scratch holding all state of the classifier's tuple loop. Values in
 * map memory are unknown to the verifier, so it checks the loop once instead
 * of once per parse path (each leaves different constants in a stack key). */
struct fw_scratch {
	struct xdpd_fw_key key;
	struct xdpd_fw_key masked;
	__u8 family;               /* XDPD_FAM_* bit of the packet              */
	__u8 pclass;               /* XDPD_PC_* bit of the packet               */
	__u16 _pad;
	struct fw_result res;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_scratch);
} xdpd_fw_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * XDPD_FW_BLOOM_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} xdpd_fw_bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_FW_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct xdpd_counter);
} xdpd_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XDPD_MAX_BANS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpd_lpm_key);
	__type(value, struct xdpd_ban);
} xdpd_bans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XDPD_MAX_ALLOW);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpd_lpm_key);
	__type(value, struct xdpd_allow);
} xdpd_allow SEC(".maps");

/* The SYN cookie stage's SYN-ACK TCP header, built in words before it is
 * written, and its per-CPU scratch: a copy of the SYN's TCP header (helper
 * argument, option walk) and the SYN-ACK. In a map rather than on the stack:
 * the stage's subprogram shares the 512-byte stack with the pipeline. Per
 * program instance, like xdpd_fw_scratch; not pinned. */
struct sc_synack {
	__u32 w[10];               /* network order, as written                 */
	__u32 len;                 /* 24, 36 or 40 bytes                        */
};

struct sc_scratch {
	__u32 hdr[16];             /* the SYN's TCP header, doff * 4 bytes       */
	struct sc_synack synack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_scratch);
} xdpd_sc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPD_MAX_LIMITS);
	__type(key, __u32);
	__type(value, struct xdpd_limit);
} xdpd_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPD_MAX_BUCKETS);
	__type(key, struct xdpd_bucket_key);
	__type(value, struct xdpd_bucket);
} xdpd_buckets SEC(".maps");

/* Automatic mitigation (bpf/watch.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XDPD_MAX_WATCH_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpd_lpm_key);
	__type(value, __u32);      /* watch index */
} xdpd_watch_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_MAX_WATCHES);
	__type(key, __u32);
	__type(value, struct xdpd_watch_stats);
} xdpd_watch_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_MAX_WATCHES);
	__type(key, __u32);
	__type(value, struct xdpd_watch_hll);
} xdpd_watch_hll SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPD_MAX_WATCHES);
	__type(key, __u32);
	__type(value, struct xdpd_watch);
} xdpd_watch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPD_MAX_TRACKED_SOURCES);
	__type(key, struct xdpd_source_key);
	__type(value, struct xdpd_source_count);
} xdpd_watch_sources SEC(".maps");

/* L4 load balancer (bpf/lb.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * XDPD_LB_MAX_VIPS);   /* services and address entries */
	__type(key, struct xdpd_lb_vip_key);
	__type(value, struct xdpd_lb_vip);
} xdpd_lb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPD_LB_MAX_VIPS * XDPD_LB_RING_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);      /* backend slot */
} xdpd_lb_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPD_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xdpd_lb_backend);
} xdpd_lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPD_LB_MAX_BACKENDS);
	__type(key, struct xdpd_lb_nat_key);
	__type(value, struct xdpd_lb_nat);
} xdpd_lb_nat SEC(".maps");

/* Shared by all CPUs, so that a flow whose packets change CPU keeps its
 * backend; BPF_F_NO_COMMON_LRU gives each CPU its own LRU list, so that
 * eviction takes no lock shared between CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPD_LB_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct xdpd_lb_flow_key);
	__type(value, struct xdpd_lb_flow);
} xdpd_lb_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpd_lb_runtime);
} xdpd_lb_runtime SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xdpd_lb_vip_stats);
} xdpd_lb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xdpd_lb_backend_stats);
} xdpd_lb_backend_stats SEC(".maps");

/* Egress interfaces for XDP_REDIRECT: the daemon adds every interface it
 * serves (key and value: the ifindex). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XDPD_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} xdpd_lb_devmap SEC(".maps");

/* Per program instance, not pinned: each CPU's cache of the route to each
 * backend (bpf_fib_lookup at most once a second per backend and CPU), the
 * new-flow guard's window, and the decision of a `lb lookup` probe. */
struct lb_nexthop {
	__u64 expires_ns;
	__u32 gen;                 /* the backend slot's gen                     */
	__u32 ifindex;             /* egress interface                           */
	__u16 mtu;
	__u8 dmac[6];
	__u8 smac[6];
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_nexthop);
} xdpd_lb_nexthops SEC(".maps");

/* The LB functions' temporaries: their stack adds to the pipeline's, and
 * both share 512 bytes. */
struct lb_scratch {
	struct bpf_fib_lookup fib;
	struct xdpd_lb_flow_key fk;
	struct xdpd_lb_vip_key vk;
	struct xdpd_lb_nat_key nk;
	struct xdpd_lb_flow nf;
	struct lb_nexthop nh;      /* a reply's next hop (not cached)          */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_scratch);
} xdpd_lb_scratch SEC(".maps");

struct lb_guard {
	__u64 window_ns;           /* start of the current second                */
	__u64 inserted;            /* flows inserted in it by this CPU           */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_guard);
} xdpd_lb_guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpd_lb_probe);
} xdpd_lb_probe SEC(".maps");

/* Observability (bpf/observe.h): what the daemon and `xdpd capture` ask
 * for, per-CPU sampling and budget state, the capture's perf buffer, the
 * sampled top-sources table and the event ring. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpd_observe);
} xdpd_observe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpd_observe_cpu);
} xdpd_observe_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} xdpd_capture_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPD_TOP_SOURCES);
	__type(key, struct xdpd_top_key);
	__type(value, struct xdpd_top_count);
} xdpd_top_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPD_EVENTS_RING_BYTES);
} xdpd_events SEC(".maps");

/* Steering (bpf/steer.h): AF_XDP sockets by (interface slot, RX queue), the
 * CPUMAP and the CPUs flows are spread over, packets sent to each CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPD_XSK_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} xdpd_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, XDPD_MAX_CPUS);   /* the control plane sets: possible CPUs */
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} xdpd_cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpd_steer_config);
} xdpd_steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct xdpd_counter);
} xdpd_steer_cpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_XSK_ENTRIES);
	__type(key, __u32);
	__type(value, struct xdpd_xsk_queue_stats);
} xdpd_steer_xsk_stats SEC(".maps");

/* Not used by the program; created and pinned with the rest so that the
 * control plane's bookkeeping survives restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPD_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xdpd_iface);
} xdpd_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * XDPD_FW_MAX_RULES);
	__type(key, __u64);
	__type(value, __u32);
} xdpd_fw_slots SEC(".maps");

#endif
