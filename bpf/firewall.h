/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Stateless firewall: ordered rules, first match wins, classified by tuple
 * space search. The control plane compiles the rules into tuples (one per
 * distinct match shape: which fields, which prefix lengths) and one hash entry
 * per (tuple, masked key). A packet costs one hash lookup per tuple visited,
 * independent of the number of rules; tuples are sorted by their best rule so
 * the scan stops as soon as no later tuple can beat the match in hand.
 *
 * Two generations of the rule set live side by side; xdpd_runtime.active_gen
 * is read once per packet, so a packet sees the old rule set or the new one,
 * never a mix. */
#ifndef XDPD_BPF_FIREWALL_H
#define XDPD_BPF_FIREWALL_H

#include "common.h"
#include "maps.h"

struct fw_result {
	struct xdpd_fw_ref rule;   /* matched terminal rule, prio NONE if none   */
	__u32 action;
	__u32 n_count;
	struct xdpd_fw_ref count[XDPD_FW_COUNT_CHAIN];
};

static __always_inline void fw_count_rule(__u32 slot, __u64 bytes)
{
	struct xdpd_counter *c = bpf_map_lookup_elem(&xdpd_rule_stats, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void fw_mask_key(struct xdpd_fw_key *out,
					const struct xdpd_fw_key *in,
					const struct xdpd_fw_key *mask)
{
	const __u32 *a = (const __u32 *)in, *m = (const __u32 *)mask;
	__u32 *o = (__u32 *)out;

#pragma unroll
	for (int i = 0; i < sizeof(*in) / 4; i++)
		o[i] = a[i] & m[i];
}

struct fw_scan {
	const struct xdpd_fw_key *key;
	__u32 gen;
	__u32 n_tuples;
	struct fw_result *res;
};

/* One tuple of the scan (a bpf_loop callback: verified once, whatever the
 * number of tuples). Returns 1 to stop. */
static long fw_scan_tuple(__u64 i, void *arg)
{
	struct fw_scan *s = arg;
	struct fw_result *res = s->res;
	__u32 idx = s->gen * XDPD_FW_MAX_TUPLES + (__u32)i;
	struct xdpd_fw_tuple *t;
	struct xdpd_fw_entry *e;
	struct xdpd_fw_key k;

	if (i >= s->n_tuples)
		return 1;
	t = bpf_map_lookup_elem(&xdpd_fw_tuples, &idx);
	if (!t || t->min_prio >= res->rule.prio)
		return 1;  /* sorted by min_prio: nothing later can win */
	fw_mask_key(&k, s->key, &t->mask);
	k.tuple = (s->gen << 15) | (__u32)i;
	e = bpf_map_lookup_elem(&xdpd_fw_entries, &k);
	if (!e)
		return 0;
	for (__u32 c = 0; c < XDPD_FW_COUNT_CHAIN; c++) {
		__u32 n = res->n_count;
		if (c >= e->n_count || n >= XDPD_FW_COUNT_CHAIN)
			break;
		res->count[n & (XDPD_FW_COUNT_CHAIN - 1)] = e->count[c];
		res->n_count = n + 1;
	}
	if (e->rule.prio < res->rule.prio) {
		res->rule = e->rule;
		res->action = e->action;
	}
	return 0;
}

/* Looks the packet up in generation `gen`; fills res. */
static __always_inline void fw_classify(const struct xdpd_fw_key *key, __u32 gen,
					__u32 n_tuples, struct fw_result *res)
{
	struct fw_scan s = { .key = key, .gen = gen, .n_tuples = n_tuples, .res = res };

	res->rule.prio = XDPD_FW_PRIO_NONE;
	res->n_count = 0;
	bpf_loop(XDPD_FW_MAX_TUPLES, fw_scan_tuple, &s, 0);
}

/* Runs the firewall; returns the XDP action and sets *reason. */
static __always_inline __u32 fw_run(struct pkt *p, __u32 *reason)
{
	__u32 zero = 0, gen, deny;
	struct xdpd_runtime *rt = bpf_map_lookup_elem(&xdpd_runtime, &zero);
	struct fw_result res;

	if (!rt) {
		*reason = XDPD_R_NO_FIREWALL;
		return XDPD_ACT_PASS;
	}
	gen = rt->active_gen & 1;
	if (!rt->gen[gen].has_rules) {
		res.rule.prio = XDPD_FW_PRIO_NONE;
		res.n_count = 0;
	} else {
		fw_classify(&p->key, gen, rt->gen[gen].n_tuples, &res);
	}

	for (__u32 c = 0; c < XDPD_FW_COUNT_CHAIN; c++) {
		if (c >= res.n_count)
			break;
		if (res.count[c & (XDPD_FW_COUNT_CHAIN - 1)].prio < res.rule.prio)
			fw_count_rule(res.count[c & (XDPD_FW_COUNT_CHAIN - 1)].slot, p->len);
	}

	if (res.rule.prio != XDPD_FW_PRIO_NONE) {
		fw_count_rule(res.rule.slot, p->len);
		deny = res.action == XDPD_FW_DENY;
		*reason = deny ? XDPD_R_FW_DENY : XDPD_R_FW_ALLOW;
	} else {
		deny = rt->gen[gen].default_action == XDPD_FW_DENY;
		*reason = deny ? XDPD_R_DEFAULT_DENY : XDPD_R_DEFAULT_ALLOW;
	}
	if (!deny)
		return XDPD_ACT_PASS;
	if (rt->monitor) {
		*reason = *reason == XDPD_R_FW_DENY ? XDPD_R_FW_MONITOR : XDPD_R_DEFAULT_MONITOR;
		return XDPD_ACT_PASS;
	}
	return XDPD_ACT_DROP;
}

#endif
