/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Watch, the first stage after parsing when automatic mitigation is on: counts
 * every IP packet for the watch its destination falls in (per protocol, SYNs,
 * and distinct sources in a HyperLogLog), before any stage can drop it, so the
 * daemon sees the attack's full rate while it is being mitigated. While the
 * daemon tracks sources (track_sources = N), one packet in N per CPU also
 * counts against its (source, watch) pair. Returns the watch's state, which
 * the rate-limit and SYN cookie stages obey. */
#ifndef XDPD_BPF_WATCH_H
#define XDPD_BPF_WATCH_H

#include "common.h"
#include "maps.h"
#include "shield.h"

/* Rank of a hash for HyperLogLog: 1 + the number of trailing zero bits of the
 * 32 bits above the register index (33 when all are zero). */
static __always_inline __u8 watch_hll_rank(__u32 x)
{
	__u8 n = 1;

	if (!x)
		return 33;
	if (!(x & 0xffff)) { n += 16; x >>= 16; }
	if (!(x & 0xff)) { n += 8; x >>= 8; }
	if (!(x & 0xf)) { n += 4; x >>= 4; }
	if (!(x & 0x3)) { n += 2; x >>= 2; }
	if (!(x & 0x1)) n += 1;
	return n;
}

static __always_inline void watch_track(const struct pkt *p, __u32 idx)
{
	struct xdpd_source_key k = { .watch = idx };
	struct xdpd_source_count *c;

	if (p->key.family == 4) {
		__u32 *w = (__u32 *)k.addr;
		w[2] = bpf_htonl(0x0000ffff);
		w[3] = p->key.src[0];
	} else {
		__builtin_memcpy(k.addr, p->key.src, 16);
	}
	c = bpf_map_lookup_elem(&xdpd_watch_sources, &k);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, p->len);
	} else {
		struct xdpd_source_count init = { .packets = 1, .bytes = p->len };
		bpf_map_update_elem(&xdpd_watch_sources, &k, &init, BPF_NOEXIST);
	}
}

static __always_inline const struct xdpd_watch *watch_run(const struct pkt *p, const struct xdpd_runtime *rt)
{
	struct xdpd_watch_stats *s;
	struct xdpd_watch_hll *hll;
	__u32 idx = 0, wp, n = rt->track_sources;
	__u64 h;

	if (rt->n_watch_prefixes) {
		struct xdpd_lpm_key k;
		__u32 *v;

		if (p->key.family == 4) {
			__u32 *w = (__u32 *)k.addr;
			w[0] = 0;
			w[1] = 0;
			w[2] = bpf_htonl(0x0000ffff);
			w[3] = p->key.dst[0];
		} else {
			__builtin_memcpy(k.addr, p->key.dst, 16);
		}
		k.prefixlen = 128;
		v = bpf_map_lookup_elem(&xdpd_watch_prefixes, &k);
		if (v && *v < XDPD_MAX_WATCHES)
			idx = *v;
	}

	s = bpf_map_lookup_elem(&xdpd_watch_stats, &idx);
	if (!s)
		return 0;
	wp = p->l4 == XDPD_L4_TCP ? XDPD_WP_TCP
	   : p->l4 == XDPD_L4_UDP ? XDPD_WP_UDP
	   : (p->l4 == XDPD_L4_ICMP || p->l4 == XDPD_L4_ICMPV6) ? XDPD_WP_ICMP : XDPD_WP_OTHER;
	s->proto[wp].packets++;
	s->proto[wp].bytes += p->len;
	if (wp == XDPD_WP_TCP && (p->key.tcp_flags & 0x12) == 0x02)
		s->syn++;

	h = xdpd_source_hash(p->key.src);
	hll = bpf_map_lookup_elem(&xdpd_watch_hll, &idx);
	if (hll) {
		__u32 r = h & (XDPD_WATCH_HLL - 1);
		__u8 rank = watch_hll_rank((__u32)(h >> 8));

		if (hll->reg[r] < rank)
			hll->reg[r] = rank;
	}
	if (n && !(s->proto[wp].packets & (n - 1)))
		watch_track(p, idx);
	return bpf_map_lookup_elem(&xdpd_watch, &idx);
}

#endif
