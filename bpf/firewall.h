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

static __always_inline __u8 fw_proto_class(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return XDPD_PC_TCP;
	case IPPROTO_UDP: return XDPD_PC_UDP;
	case IPPROTO_ICMP: return XDPD_PC_ICMP;
	case 58: return XDPD_PC_ICMPV6;
	default: return XDPD_PC_OTHER;
	}
}

/* Keeps the first XDPD_FW_COUNT_CHAIN count matches, in tuple order. */
static __always_inline void fw_remember_count(volatile struct fw_result *res, struct xdpd_fw_ref ref)
{
	if (res->c0.prio == XDPD_FW_PRIO_NONE) {
		res->c0.prio = ref.prio;
		res->c0.slot = ref.slot;
	} else if (res->c1.prio == XDPD_FW_PRIO_NONE) {
		res->c1.prio = ref.prio;
		res->c1.slot = ref.slot;
	} else if (res->c2.prio == XDPD_FW_PRIO_NONE) {
		res->c2.prio = ref.prio;
		res->c2.slot = ref.slot;
	} else if (res->c3.prio == XDPD_FW_PRIO_NONE) {
		res->c3.prio = ref.prio;
		res->c3.slot = ref.slot;
	}
}

/* Looks sc->key up in generation `gen`; the result lands in sc->res.
 *
 * A global function: the verifier checks it once, with unknown arguments,
 * instead of once per parse path of the caller. That costs one call per
 * packet. Inside, the tuple loop is plain code, not bpf_loop: on CPUs whose
 * returns are mitigated (SRSO "Safe RET"), every call costs ~10 ns, which a
 * callback per tuple would pay. For the same reason the Bloom filter (an
 * inlined array load) keeps the hash lookup (a real call) for keys that are
 * probably present. */
__noinline int fw_classify(struct fw_scratch *sc, __u32 gen, __u32 n_tuples)
{
	const struct xdpd_fw_key *key = &sc->key;
	struct xdpd_fw_key *k = &sc->masked;
	/* volatile: clang must not carry these in registers across iterations,
	 * or the verifier would track every combination of them */
	volatile struct fw_result *res = &sc->res;
	volatile __u8 *family = &sc->family, *pclass = &sc->pclass;

	if (!sc)
		return 0;
	gen &= 1;

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < XDPD_FW_MAX_TUPLES; i++) {
		__u32 idx = gen * XDPD_FW_MAX_TUPLES + i, word;
		struct xdpd_fw_tuple *t;
		struct xdpd_fw_entry *e;
		__u64 h, *bits;

		if (i >= n_tuples)
			break;
		t = bpf_map_lookup_elem(&xdpd_fw_tuples, &idx);
		if (!t || t->min_prio >= res->rule.prio)
			break;  /* sorted by min_prio: nothing later can win */
		if (!(t->families & *family) || !(t->protos & *pclass))
			continue;  /* no entry of this tuple can match: no lookup */
		fw_mask_key(k, key, &t->mask);
		k->tuple = (gen << 15) | i;
		h = xdpd_fw_bloom_hash((const __u32 *)k);
		word = XDPD_FW_BLOOM_WORD(gen, h);
		bits = bpf_map_lookup_elem(&xdpd_fw_bloom, &word);
		if (bits && !(*bits & XDPD_FW_BLOOM_BIT(h)))
			continue;  /* certainly no entry: skip the hash lookup */
		e = bpf_map_lookup_elem(&xdpd_fw_entries, k);
		if (!e)
			continue;
		if (e->n_count > 0)
			fw_remember_count(res, e->count[0]);
		if (e->n_count > 1)
			fw_remember_count(res, e->count[1]);
		if (e->n_count > 2)
			fw_remember_count(res, e->count[2]);
		if (e->n_count > 3)
			fw_remember_count(res, e->count[3]);
		if (e->rule.prio < res->rule.prio) {
			res->rule.prio = e->rule.prio;
			res->rule.slot = e->rule.slot;
			res->action = e->action;
			res->limit = e->limit;
			if (cfg_steer)
				res->steer = e->steer;
		}
	}
	return 0;
}

/* Runs the firewall; returns the XDP action and sets *reason, and *limit to
 * the deciding allow rule's rate-limit profile + 1 (0: none). */
static __always_inline __u32 fw_run(struct pkt *p, const struct xdpd_runtime *rt, __u32 *reason,
				     __u32 *limit)
{
	const struct xdpd_fw_ref none = { .prio = XDPD_FW_PRIO_NONE };
	__u32 zero = 0, gen, deny;
	struct fw_scratch *sc = bpf_map_lookup_elem(&xdpd_fw_scratch, &zero);
	struct fw_result *res;

	if (!sc) {
		*reason = XDPD_R_NO_FIREWALL;
		return XDPD_ACT_PASS;
	}
	*limit = 0;
	res = &sc->res;
	res->limit = 0;
	res->steer = 0;
	res->rule = none;
	res->c0 = res->c1 = res->c2 = res->c3 = none;
	gen = rt->active_gen & 1;
	if (rt->gen[gen].has_rules) {
		sc->key = p->key;
		sc->family = p->key.family == 6 ? XDPD_FAM_V6 : XDPD_FAM_V4;
		sc->pclass = fw_proto_class(p->key.proto);
		fw_classify(sc, gen, rt->gen[gen].n_tuples);
	}

	/* count rules ahead of the deciding rule (prio NONE never counts) */
	if (res->c0.prio < res->rule.prio)
		fw_count_rule(res->c0.slot, p->len);
	if (res->c1.prio < res->rule.prio)
		fw_count_rule(res->c1.slot, p->len);
	if (res->c2.prio < res->rule.prio)
		fw_count_rule(res->c2.slot, p->len);
	if (res->c3.prio < res->rule.prio)
		fw_count_rule(res->c3.slot, p->len);

	if (res->rule.prio != XDPD_FW_PRIO_NONE) {
		fw_count_rule(res->rule.slot, p->len);
		p->rule = res->rule.slot + 1;
		deny = res->action == XDPD_FW_DENY;
		*reason = deny ? XDPD_R_FW_DENY : XDPD_R_FW_ALLOW;
		*limit = res->limit;
		if (cfg_steer)
			p->steer = res->steer;
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
