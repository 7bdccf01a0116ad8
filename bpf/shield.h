/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shield, first stage after parsing: sources on the allow list are marked
 * trusted (never banned or rate-limited; the firewall still applies); sources
 * on the ban list are dropped until their ban expires. Both are LPM tries
 * keyed by source address (IPv4 as ::ffff:a.b.c.d), so a ban or an allow
 * entry may be a single address or a prefix. An empty list costs no lookup. */
#ifndef XDPD_BPF_SHIELD_H
#define XDPD_BPF_SHIELD_H

#include "common.h"
#include "maps.h"

#define SHIELD_CONTINUE 0
#define SHIELD_DROP 1

static __always_inline void shield_src_key(const struct pkt *p, struct xdpd_lpm_key *k)
{
	if (p->key.family == 4) {
		__u32 *w = (__u32 *)k->addr;
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0x0000ffff);
		w[3] = p->key.src[0];
	} else {
		__builtin_memcpy(k->addr, p->key.src, 16);
	}
	k->prefixlen = 128;
}

/* The data plane's clock: CLOCK_MONOTONIC, or the tests' injected time. */
static __always_inline __u64 shield_now(const struct xdpd_runtime *rt)
{
	return rt->fake_now_ns ? rt->fake_now_ns : bpf_ktime_get_ns();
}

static __always_inline int shield_run(struct pkt *p, const struct xdpd_runtime *rt)
{
	struct xdpd_lpm_key k;
	__u32 n_allow = rt->n_allow, n_bans = rt->n_bans;

	if (!n_allow && !n_bans)
		return SHIELD_CONTINUE;
	shield_src_key(p, &k);
	if (n_allow) {
		struct xdpd_allow *a = bpf_map_lookup_elem(&xdpd_allow, &k);
		if (a) {
			__sync_fetch_and_add(&a->hits, 1);
			p->trusted = 1;
			return SHIELD_CONTINUE;
		}
	}
	if (n_bans) {
		struct xdpd_ban *b = bpf_map_lookup_elem(&xdpd_bans, &k);
		if (b && (!b->expires_ns || shield_now(rt) < b->expires_ns)) {
			__sync_fetch_and_add(&b->hits, 1);
			return SHIELD_DROP;
		}
	}
	return SHIELD_CONTINUE;
}

#endif
