/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: every packet is counted once by action, by reason and
 * verdict, by L3 and by L4; then handed to observe.h when something watches. */
#ifndef XDPD_BPF_STATS_H
#define XDPD_BPF_STATS_H

#include "common.h"
#include "maps.h"
#include "observe.h"

static __always_inline void counter_add(struct xdpd_counter *c, __u64 bytes)
{
	c->packets++;
	c->bytes += bytes;
}

static __always_inline __u32 stats_record(struct xdp_md *ctx, struct pkt *p, __u32 action, __u32 reason)
{
	__u32 slot = cfg_ifslot, zero = 0, what = 0, rv;
	const struct xdpd_observe *o;
	struct xdpd_if_stats *s;

	if (cfg_lb_probe)  /* `lb lookup`: counts nothing */
		return action;
	s = bpf_map_lookup_elem(&xdpd_stats, &slot);
	if (!s)
		return action;
	/* masks, not compares: the verifier keeps their bounds through any
	 * code the compiler makes of them; every value is below its MAX */
	counter_add(&s->action[action & (XDPD_ACT_SLOTS - 1)], p->len);
	rv = (reason & (XDPD_R_SLOTS - 1)) * XDPD_VERDICTS + XDPD_VERDICT_SLOT(action);
	/* the mask in asm: clang drops a C mask it can prove redundant, and
	 * the verifier (which cannot) then sees an unbounded index */
	asm volatile("%0 &= %1" : "+r"(rv) : "i"(XDPD_R_SLOTS * XDPD_VERDICTS - 1));
	counter_add(&s->reason[0][0] + rv, p->len);
	counter_add(&s->l3[p->l3 & (XDPD_L3_SLOTS - 1)], p->len);
	counter_add(&s->l4[p->l4 & (XDPD_L4_SLOTS - 1)], p->len);

	if (!cfg_observe)
		return action;
	o = bpf_map_lookup_elem(&xdpd_observe, &zero);  /* inlined array access */
	if (!o)
		return action;
	if (o->capture)
		what |= OBS_CAPTURE;
	if (o->top_sample && !(s->action[action & (XDPD_ACT_SLOTS - 1)].packets & (o->top_sample - 1)))
		what |= OBS_TOP;
	if (o->event_reasons & (1ull << (reason & 63)))
		what |= OBS_EVENT;
	if (what)
		xdpd_observe_pkt(ctx, p, action, reason, what);
	return action;
}

#endif
