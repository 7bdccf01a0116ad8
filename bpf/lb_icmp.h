/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP to a VIP address. Echo requests are answered here (the VIP lives on
 * no host the client could ping). "Fragmentation needed" (ICMP 3/4) and
 * "packet too big" (ICMPv6 2) quote a packet the VIP sent -- a NAT reply or a
 * DSR backend's answer -- so they go to the backend that owns the quoted flow,
 * found like the flow's own packets (connection table, then ring), which lets
 * path MTU discovery work through the balancer. In NAT mode the outer
 * destination and the quoted source become the backend's (the quoted L4
 * checksum is left as it is: nobody can verify it in a truncated quote). */
#ifndef XDPD_BPF_LB_ICMP_H
#define XDPD_BPF_LB_ICMP_H

#include "lb_core.h"
#include "parse.h"

#define LB_ECHO_TTL 64

static __always_inline __u32 lb_echo(struct xdp_md *ctx, __u64 l3, __u64 l4, __u32 v6)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct icmp_hdr *ih = data + l4;
	__u8 mac[6];
	__u16 old;

	if ((void *)(eth + 1) > end || (void *)(ih + 1) > end)
		return LB_NOT_MINE;
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		struct in6_addr a;
		if ((void *)(ip6 + 1) > end)
			return LB_NOT_MINE;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;       /* the pseudo-header's sum does not change */
		ip6->hop_limit = LB_ECHO_TTL;
		old = *(__u16 *)ih;
		ih->type = 129;       /* echo reply */
	} else {
		struct iphdr *ip = data + l3;
		__u32 a;
		if ((void *)(ip + 1) > end)
			return LB_NOT_MINE;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		old = *(__u16 *)&ip->ttl;
		ip->ttl = LB_ECHO_TTL;
		csum_apply(&ip->check, csum_diff16(0, old, *(__u16 *)&ip->ttl));
		old = *(__u16 *)ih;
		ih->type = 0;         /* echo reply */
	}
	csum_apply(&ih->checksum, csum_diff16(0, old, *(__u16 *)ih));
	__builtin_memcpy(mac, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, mac, 6);
	return LB_RESULT(XDPD_ACT_TX, XDPD_R_LB_ICMP_ECHO);
}

/* The quoted packet's flow, turned around: the flow of the client's packets. */
static __always_inline __u32 lb_icmp_error(struct xdp_md *ctx, __u64 l3, __u64 l4, __u32 v6)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct icmp_hdr *ih = data + l4;
	struct lb_scratch *sc = lb_scratch();
	struct xdpd_lb_runtime *rt = lb_runtime();
	struct xdpd_lb_flow_key *fk;
	const struct xdpd_lb_backend *be;
	struct xdpd_lb_vip_stats *vs;
	struct lb_nexthop *nh = 0;
	struct xdpd_lb_vip *vip;
	struct lb_choice c = {};
	__u32 diff = 0, *qsrc, act;
	__u16 *qports;
	__u64 now;
	int rc;

	if (!sc || !rt || (void *)(ih + 1) > end)
		return LB_NOT_MINE;
	fk = &sc->fk;
	__builtin_memset(fk, 0, sizeof(*fk));
	if (v6) {
		struct ipv6hdr *q = (void *)(ih + 1);
		if ((void *)(q + 1) > end)
			return LB_NOT_MINE;
		if (q->nexthdr != IPPROTO_TCP && q->nexthdr != IPPROTO_UDP)
			return LB_NOT_MINE;
		qports = (void *)(q + 1);
		if ((void *)(qports + 2) > end)
			return LB_NOT_MINE;
		__builtin_memcpy(fk->src, &q->daddr, 16);
		__builtin_memcpy(fk->dst, &q->saddr, 16);
		fk->proto = q->nexthdr;
		fk->family = 6;
		qsrc = (__u32 *)&q->saddr;
	} else {
		struct iphdr *q = (void *)(ih + 1);
		if ((void *)(q + 1) > end)
			return LB_NOT_MINE;
		if (q->ihl != 5 || (q->protocol != IPPROTO_TCP && q->protocol != IPPROTO_UDP))
			return LB_NOT_MINE;
		qports = (void *)(q + 1);
		if ((void *)(qports + 2) > end)
			return LB_NOT_MINE;
		fk->src[0] = q->daddr;
		fk->dst[0] = q->saddr;
		fk->proto = q->protocol;
		fk->family = 4;
		qsrc = &q->saddr;
	}
	fk->sport = bpf_ntohs(qports[1]);
	fk->dport = bpf_ntohs(qports[0]);
	vip = lb_vip(sc, fk->dst, fk->family, fk->proto, fk->dport, rt->all_ports);
	if (!vip)
		return LB_NOT_MINE;
	vs = lb_vip_stats(vip->index);
	now = lb_now();
	if (!lb_pick(sc, rt, vip, fk, 0, now, 0, &c, 0)) {
		if (vs)
			vs->no_backend++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_BACKEND);
	}
	be = c.be;
	rc = lb_backend_route(ctx, sc, c.slot, be, fk->proto, now, &nh);
	if (rc != LB_NH_OK || !nh) {
		if (vs)
			vs->no_route++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	}

	if (!(vip->flags & XDPD_LB_VIP_F_DSR)) {
		if (lb_ttl(data, end, l3, v6) <= 1)
			return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_TTL);
		if (v6) {
			struct ipv6hdr *ip6 = data + l3;
			__u32 *d;
			if ((void *)(ip6 + 1) > end)
				return LB_NOT_MINE;
			d = (__u32 *)&ip6->daddr;
			diff = csum_diff128(0, d, be->addr);    /* pseudo-header */
			d[0] = be->addr[0];
			d[1] = be->addr[1];
			d[2] = be->addr[2];
			d[3] = be->addr[3];
			ip6->hop_limit--;
			diff = csum_diff128(diff, qsrc, be->addr);
			qsrc[0] = be->addr[0];
			qsrc[1] = be->addr[1];
			qsrc[2] = be->addr[2];
			qsrc[3] = be->addr[3];
		} else {
			struct iphdr *ip = data + l3;
			struct iphdr *q = (void *)(ih + 1);
			__u16 old, *w;
			__u32 d;
			if ((void *)(ip + 1) > end || (void *)(q + 1) > end)
				return LB_NOT_MINE;
			w = (__u16 *)&ip->ttl;
			old = *w;
			ip->ttl--;
			d = csum_diff32(csum_diff16(0, old, *w), ip->daddr, be->addr[0]);
			ip->daddr = be->addr[0];
			csum_apply(&ip->check, d);
			/* the quoted header: its source and checksum, both inside
			 * the ICMP checksum */
			d = csum_diff32(0, q->saddr, be->addr[0]);
			old = q->check;
			q->saddr = be->addr[0];
			csum_apply(&q->check, d);
			diff = csum_diff16(d, old, q->check);
		}
		if (be->port) {
			__u16 np = bpf_htons(be->port);
			diff = csum_diff16(diff, qports[0], np);
			qports[0] = np;
		}
		/* checked again, behind a barrier: the compiler rebuilds the
		 * pointer from a spilled copy the verifier knows no range of */
		ih = data + l4;
		barrier_var(ih);
		if ((void *)(ih + 1) > end)
			return LB_NOT_MINE;
		csum_apply(&ih->checksum, diff);
	}
	act = lb_send(ctx, nh);
	if (act == XDPD_ACT_ABORTED) {  /* egress not in the devmap: nothing sent */
		if (vs)
			vs->no_route++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	}
	if (vs)
		vs->icmp_error++;
	return LB_RESULT(act, XDPD_R_LB_ICMP_ERROR);
}

/* Echo request to a VIP address: answered. Global, like the other LB
 * functions (and apart from the error path, for the stack they share). */
__noinline int xdpd_lb_echo(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 meta)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct lb_scratch *sc = lb_scratch();
	struct xdpd_lb_vip_stats *vs;
	struct xdpd_lb_vip *vip;
	__u32 v6 = meta & LB_META_V6, rc;

	if (!sc || l3 > LB_MAX_L3 || l4 > LB_MAX_L4 || cfg_lb_probe)
		return LB_NOT_MINE;
	__builtin_memset(&sc->fk, 0, sizeof(sc->fk));
	if (lb_addrs(data, end, l3, v6, &sc->fk))
		return LB_NOT_MINE;
	vip = lb_vip(sc, sc->fk.dst, sc->fk.family, 0, 0, 0);
	if (!vip)
		return LB_NOT_MINE;
	rc = lb_echo(ctx, l3, l4, v6);
	vs = lb_vip_stats(vip->index);
	if (vs && rc != LB_NOT_MINE)
		vs->icmp_echo++;
	return rc;
}

/* "Fragmentation needed" / "packet too big" about a VIP's flow. */
__noinline int xdpd_lb_icmp_error(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 meta)
{
	if (l3 > LB_MAX_L3 || l4 > LB_MAX_L4)
		return LB_NOT_MINE;
	return lb_icmp_error(ctx, l3, l4, meta & LB_META_V6);
}

#endif
