/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Rate limits, after the firewall allowed a packet through a rule that names a
 * limit profile: per source, per source prefix (/24, /64 ...: spoofed floods
 * from many addresses of one network), and per destination (a ceiling no
 * number of sources can exceed). Each level is a GCRA bucket (see abi.h) in
 * one LRU table; a packet must conform at every level its profile sets.
 * Allow-listed (trusted) sources are never limited. */
#ifndef XDPD_BPF_RATELIMIT_H
#define XDPD_BPF_RATELIMIT_H

#include "common.h"
#include "maps.h"
#include "shield.h"

/* One GCRA decision on *tat: conforming packets move it by inc. Exact across
 * CPUs: the update is a compare-and-swap, retried while other CPUs win it; a
 * packet that loses XDPD_GCRA_RETRIES times is not admitted (never more than
 * the rate, possibly less under extreme contention on one bucket). */
static __always_inline int gcra(__u64 *tat, __u64 now, __u64 inc, __u64 tolerance)
{
	for (int i = 0; i < XDPD_GCRA_RETRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 t = old > now ? old : now;

		if (t - now > tolerance)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, t + inc) == old)
			return 1;
	}
	return 0;
}

static __always_inline void rl_mask(__u8 *addr, __u32 plen)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		__u32 keep = plen > (__u32)i * 8 ? plen - i * 8 : 0;
		if (keep < 8)
			addr[i] &= (__u8)(0xff00 >> keep);
	}
}

/* What the limiter needs to know of a packet. */
struct rl_packet {
	__u32 src[4];
	__u32 dst[4];
	__u64 len;
	__u64 now;
	__u32 limit;               /* profile index                            */
	__u32 family;
};

/* Returns 0 when the packet conforms at `level`, else the reason to drop it. */
static __always_inline __u32 rl_level(const struct rl_packet *p, const struct xdpd_limit *lim, __u32 level)
{
	const struct xdpd_rate *pr = &lim->pkt[level], *br = &lim->byte[level];
	struct xdpd_bucket_key k = { .limit = p->limit, .level = level };
	const __u32 *a = level == XDPD_LIM_DEST ? p->dst : p->src;
	struct xdpd_bucket *b;
	__u64 now = p->now, pinc = pr->interval, binc = br->interval * p->len / 1000;
	__u32 *w = (__u32 *)k.addr;

	if (!pr->interval && !br->interval)
		return 0;
	if (p->family == 4) {
		w[2] = bpf_htonl(0x0000ffff);
		w[3] = a[0];
		if (level == XDPD_LIM_PREFIX)
			rl_mask(k.addr, 96 + lim->prefix_v4);
	} else {
		__builtin_memcpy(k.addr, a, 16);
		if (level == XDPD_LIM_PREFIX)
			rl_mask(k.addr, lim->prefix_v6);
	}

	b = bpf_map_lookup_elem(&xdpd_buckets, &k);
	if (!b) {
		/* First packet of this bucket: it conforms (burst >= 1). */
		struct xdpd_bucket init = { .tat_pkt = now + pinc, .tat_byte = now + binc };

		if (!bpf_map_update_elem(&xdpd_buckets, &k, &init, BPF_NOEXIST))
			return 0;
		b = bpf_map_lookup_elem(&xdpd_buckets, &k);  /* another CPU made it */
		if (!b)
			return 0;
	}
	if (pr->interval && !gcra(&b->tat_pkt, now, pinc, pr->tolerance_ns))
		return XDPD_R_RATE_SOURCE + level;
	if (br->interval && !gcra(&b->tat_byte, now, binc, br->tolerance_ns))
		return XDPD_R_RATE_SOURCE + level;
	return 0;
}

/* The three levels, as a global function: the verifier checks it once, not
 * once per path of the stages around it (with every stage compiled in, their
 * paths multiplied past the verifier's budget). Costs one call (~10 ns here)
 * on packets that have a limit. */
__noinline int xdpd_ratelimit(const struct rl_packet *p)
{
	__u32 limit, reason;
	struct xdpd_limit *lim;

	if (!p)
		return 0;
	limit = p->limit;
	lim = bpf_map_lookup_elem(&xdpd_limits, &limit);
	if (!lim)
		return 0;
	reason = rl_level(p, lim, XDPD_LIM_SOURCE);
	if (!reason)
		reason = rl_level(p, lim, XDPD_LIM_PREFIX);
	if (!reason)
		reason = rl_level(p, lim, XDPD_LIM_DEST);
	return reason;
}

/* Returns 0 to let the packet on, or the reason to drop it. */
static __always_inline __u32 ratelimit_run(const struct pkt *p, const struct xdpd_runtime *rt,
					    __u32 limit_plus_one)
{
	struct rl_packet in = {
		.len = p->len,
		.now = shield_now(rt),
		.limit = limit_plus_one - 1,
		.family = p->key.family,
	};

	if (p->trusted)
		return 0;
	__builtin_memcpy(in.src, p->key.src, 16);
	__builtin_memcpy(in.dst, p->key.dst, 16);
	/* The verifier knows nothing of a global function's result: map it
	 * back to constants before it indexes the reason counters. */
	switch (xdpd_ratelimit(&in)) {
	case XDPD_R_RATE_SOURCE: return XDPD_R_RATE_SOURCE;
	case XDPD_R_RATE_PREFIX: return XDPD_R_RATE_PREFIX;
	case XDPD_R_RATE_DEST: return XDPD_R_RATE_DEST;
	default: return 0;
	}
}

#endif
