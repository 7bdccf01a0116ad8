/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: every packet is counted once by action, reason, L3 and L4. */
#ifndef XDPD_BPF_STATS_H
#define XDPD_BPF_STATS_H

#include "common.h"
#include "maps.h"

static __always_inline void counter_add(struct xdpd_counter *c, __u64 bytes)
{
	c->packets++;
	c->bytes += bytes;
}

static __always_inline __u32 stats_record(const struct pkt *p, __u32 action, __u32 reason)
{
	__u32 slot = cfg_ifslot;
	struct xdpd_if_stats *s;

	if (cfg_lb_probe)  /* `lb lookup`: counts nothing */
		return action;
	s = bpf_map_lookup_elem(&xdpd_stats, &slot);
	if (s) {
		/* masks, not compares: the verifier keeps their bounds through any
		 * code the compiler makes of them; every value is below its MAX */
		counter_add(&s->action[action & (XDPD_ACT_SLOTS - 1)], p->len);
		counter_add(&s->reason[reason & (XDPD_R_SLOTS - 1)], p->len);
		counter_add(&s->l3[p->l3 & (XDPD_L3_SLOTS - 1)], p->len);
		counter_add(&s->l4[p->l4 & (XDPD_L4_SLOTS - 1)], p->len);
	}
	return action;
}

#endif
