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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPD_FW_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct xdpd_counter);
} xdpd_rule_stats SEC(".maps");

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
	__uint(max_entries, XDPD_FW_MAX_RULES);
	__type(key, __u64);
	__type(value, __u32);
} xdpd_fw_slots SEC(".maps");

#endif
