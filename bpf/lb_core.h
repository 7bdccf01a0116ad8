/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The load balancer's building blocks: picking a flow's backend (connection
 * table, then Maglev ring), routing to it (bpf_fib_lookup, cached per backend
 * and CPU for a second), rewriting addresses and ports with incremental
 * checksums, and sending the packet out (XDP_TX or XDP_REDIRECT). Used by
 * bpf/lb.h and bpf/lb_icmp.h. */
#ifndef XDPD_BPF_LB_CORE_H
#define XDPD_BPF_LB_CORE_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "common.h"
#include "maps.h"
#include "csum.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Results of the LB functions: (reason << 8) | action, or LB_NOT_MINE. */
#define LB_NOT_MINE 0xffffu
#define LB_RESULT(act, reason) ((__u32)(reason) << 8 | (act))

/* What the pipeline tells the LB functions about a packet (scalars only: the
 * functions are global and re-read the headers from ctx). */
#define LB_META_V6   0x1
#define LB_META_FRAG 0x2
#define LB_META_SYN  0x4       /* TCP SYN without ACK                        */
#define LB_META_PROTO(m) (((m) >> 8) & 0xff)

/* Deepest L3/L4 offsets balanced (VLAN tags, IPv6 extension headers). */
#define LB_MAX_L3 64
#define LB_MAX_L4 512

#define LB_NH_OK    0
#define LB_NH_NEIGH 1              /* route found, neighbour not resolved     */
#define LB_NH_FAIL  2
#define LB_NH_LOCAL 3              /* the destination is this host's          */

#define LB_NH_TTL_NS 1000000000ull  /* a cached route is used for a second  */
#define LB_NO_SLOT 0xffffffffu

static __always_inline __u64 lb_now(void)
{
	__u32 zero = 0;
	struct xdpd_runtime *rt = bpf_map_lookup_elem(&xdpd_runtime, &zero);

	return rt && rt->fake_now_ns ? rt->fake_now_ns : bpf_ktime_get_ns();
}

static __always_inline __u64 lb_len(struct xdp_md *ctx, void *data, void *end)
{
	return cfg_multibuf ? bpf_xdp_get_buff_len(ctx) : (__u64)(end - data);
}

/* Counters; none in a probe instance. */
static __always_inline struct xdpd_lb_vip_stats *lb_vip_stats(__u32 vip)
{
	return cfg_lb_probe ? 0 : bpf_map_lookup_elem(&xdpd_lb_vip_stats, &vip);
}

static __always_inline struct xdpd_lb_backend_stats *lb_backend_stats(__u32 slot)
{
	return cfg_lb_probe ? 0 : bpf_map_lookup_elem(&xdpd_lb_backend_stats, &slot);
}

static __always_inline void lb_probe_note(__u32 vip, __u32 slot, __u32 hit)
{
	__u32 zero = 0;
	struct xdpd_lb_probe *pr;

	if (!cfg_lb_probe)
		return;
	pr = bpf_map_lookup_elem(&xdpd_lb_probe, &zero);
	if (pr) {
		pr->seq++;
		pr->vip = vip;
		pr->backend = slot;
		pr->table_hit = hit;
	}
}

/* The next hop to dst: egress interface, MACs, MTU. */
static __always_inline int lb_fib(struct xdp_md *ctx, struct lb_scratch *sc, __u32 v6, const __u32 *dst,
				  __u8 proto, struct lb_nexthop *nh)
{
	struct bpf_fib_lookup *fib = &sc->fib;
	long rc;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ctx->ingress_ifindex;
	fib->l4_protocol = proto;
	if (v6) {
		fib->family = AF_INET6;
		fib->ipv6_dst[0] = dst[0];
		fib->ipv6_dst[1] = dst[1];
		fib->ipv6_dst[2] = dst[2];
		fib->ipv6_dst[3] = dst[3];
	} else {
		fib->family = AF_INET;
		fib->ipv4_dst = dst[0];
	}
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return LB_NH_NEIGH;
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return LB_NH_LOCAL;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return LB_NH_FAIL;
	nh->ifindex = fib->ifindex;
	nh->mtu = fib->mtu_result;
	__builtin_memcpy(nh->dmac, fib->dmac, 6);
	__builtin_memcpy(nh->smac, fib->smac, 6);
	return LB_NH_OK;
}

static __always_inline struct lb_scratch *lb_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&xdpd_lb_scratch, &zero);
}

static __always_inline struct xdpd_lb_runtime *lb_runtime(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&xdpd_lb_runtime, &zero);
}

/* The route to a backend, from this CPU's cache while it is fresh. */
static __always_inline int lb_backend_route(struct xdp_md *ctx, struct lb_scratch *sc, __u32 slot,
					    const struct xdpd_lb_backend *be, __u8 proto, __u64 now,
					    struct lb_nexthop **out)
{
	struct lb_nexthop *nh = bpf_map_lookup_elem(&xdpd_lb_nexthops, &slot);
	int rc;

	if (!nh)
		return LB_NH_FAIL;
	if (nh->ifindex && nh->gen == be->gen && nh->expires_ns > now) {
		*out = nh;
		return LB_NH_OK;
	}
	rc = lb_fib(ctx, sc, be->family == 6, be->addr, proto, nh);
	if (rc != LB_NH_OK) {
		nh->ifindex = 0;
		return rc == LB_NH_NEIGH ? rc : LB_NH_FAIL;
	}
	nh->gen = be->gen;
	nh->expires_ns = now + LB_NH_TTL_NS;
	*out = nh;
	return LB_NH_OK;
}

/* Writes the MACs and picks the verdict: XDP_TX out of the interface the
 * packet came in on, XDP_REDIRECT through xdpd_lb_devmap to another one.
 * XDPD_ACT_ABORTED when the egress interface is not one xdpd serves. */
static __always_inline __u32 lb_send(struct xdp_md *ctx, const struct lb_nexthop *nh)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDPD_ACT_ABORTED;
	__builtin_memcpy(eth->h_dest, nh->dmac, 6);
	__builtin_memcpy(eth->h_source, nh->smac, 6);
	if (nh->ifindex == ctx->ingress_ifindex)
		return XDPD_ACT_TX;
	if (bpf_redirect_map(&xdpd_lb_devmap, nh->ifindex, 0) == XDP_REDIRECT)
		return XDPD_ACT_REDIRECT;
	return XDPD_ACT_ABORTED;
}

/* Sends the packet when its next hop is known (rc LB_NH_OK; a NAT packet
 * with an unresolved neighbour goes to the kernel instead) and counts it on
 * the VIP's and the backend's counters. XDPD_ACT_ABORTED, counted as
 * no_route, when the egress interface is not one xdpd serves. */
static __always_inline __u32 lb_out(struct xdp_md *ctx, int rc, const struct lb_nexthop *nh,
				    struct xdpd_lb_vip_stats *vs, struct xdpd_counter *vc,
				    struct xdpd_counter *bc, __u64 len)
{
	__u32 act = XDPD_ACT_PASS;

	if (rc == LB_NH_OK) {
		act = lb_send(ctx, nh);
		if (act == XDPD_ACT_ABORTED) {
			if (vs)
				vs->no_route++;
			return act;
		}
	}
	if (vc) {
		vc->packets++;
		vc->bytes += len;
	}
	if (bc) {
		bc->packets++;
		bc->bytes += len;
	}
	return act;
}

struct lb_choice {
	__u32 slot;
	__u32 hit;                 /* from the connection table                  */
	const struct xdpd_lb_backend *be;
};

/* The backend of flow fk to vip: the connection table's while that backend is
 * in service (same slot generation, up; a UDP flow also not idle for longer
 * than the timeout; a TCP SYN always starts over), else the Maglev ring's,
 * inserted into the table when `insert` (unless the new-flow guard says
 * this CPU inserted its share this second). Returns 0 when the VIP has no
 * backend in service. */
static __always_inline int lb_pick(struct lb_scratch *sc, const struct xdpd_lb_runtime *rt,
				   const struct xdpd_lb_vip *vip, struct xdpd_lb_flow_key *fk, __u32 syn,
				   __u64 now, int insert, struct lb_choice *out, struct xdpd_lb_vip_stats *vs)
{
	__u32 zero = 0, slot, idx;
	const struct xdpd_lb_backend *be;
	struct xdpd_lb_flow *f = 0;
	__u32 *ring;

	if (!syn)
		f = bpf_map_lookup_elem(&xdpd_lb_flows, fk);
	if (f) {
		slot = f->backend;
		be = bpf_map_lookup_elem(&xdpd_lb_backends, &slot);
		/* signed: another CPU may have refreshed atime a moment after
		 * this CPU read its clock */
		__s64 idle = (__s64)(now - f->atime_ns);

		if (be && be->gen == f->gen && (be->flags & XDPD_LB_BE_UP) &&
		    (fk->proto != IPPROTO_UDP || idle <= (__s64)rt->udp_timeout_ns)) {
			if (insert && !cfg_lb_probe && idle > (__s64)LB_NH_TTL_NS)
				f->atime_ns = now;
			if (vs)
				vs->table_hit++;
			out->slot = slot;
			out->be = be;
			out->hit = 1;
			return 1;
		}
	}

	if (!vip->n_ring)
		return 0;
	idx = vip->index * XDPD_LB_RING_SIZE + (__u32)(xdpd_lb_flow_hash((const __u32 *)fk) % XDPD_LB_RING_SIZE);
	ring = bpf_map_lookup_elem(&xdpd_lb_rings, &idx);
	if (!ring)
		return 0;
	slot = *ring;
	be = bpf_map_lookup_elem(&xdpd_lb_backends, &slot);
	if (!be || !be->family)
		return 0;
	if (vs)
		vs->table_miss++;
	if (insert && !cfg_lb_probe) {
		struct lb_guard *g = bpf_map_lookup_elem(&xdpd_lb_guard, &zero);
		int ok = 1;

		if (g && rt->new_flow_limit) {
			if (now - g->window_ns >= 1000000000ull) {
				g->window_ns = now;
				g->inserted = 0;
			}
			ok = g->inserted < rt->new_flow_limit;
		}
		if (ok) {
			sc->nf.atime_ns = now;
			sc->nf.backend = slot;
			sc->nf.gen = be->gen;
			ok = bpf_map_update_elem(&xdpd_lb_flows, fk, &sc->nf, BPF_ANY) == 0;
			if (ok && g)
				g->inserted++;
		}
		if (vs) {
			if (ok)
				vs->new_flows++;
			else
				vs->not_inserted++;
		}
	}
	out->slot = slot;
	out->be = be;
	out->hit = 0;
	return 1;
}

/* IP total length of the packet (for the MTU check). */
static __always_inline __u32 lb_ip_len(void *data, void *end, __u64 l3, __u32 v6)
{
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return 0;
		return sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	}
	struct iphdr *ip = data + l3;
	if ((void *)(ip + 1) > end)
		return 0;
	return bpf_ntohs(ip->tot_len);
}

/* Longer than the egress MTU (counted)? XDP cannot fragment. */
static __always_inline int lb_too_big(void *data, void *end, __u64 l3, __u32 v6, int rc,
				      const struct lb_nexthop *nh, struct xdpd_lb_vip_stats *vs)
{
	if (rc != LB_NH_OK || !nh->mtu || lb_ip_len(data, end, l3, v6) <= nh->mtu)
		return 0;
	if (vs)
		vs->oversized++;
	return 1;
}

/* TTL / hop limit of the packet: 0 when the header is cut short. */
static __always_inline __u32 lb_ttl(void *data, void *end, __u64 l3, __u32 v6)
{
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		return (void *)(ip6 + 1) > end ? 0 : ip6->hop_limit;
	}
	struct iphdr *ip = data + l3;
	return (void *)(ip + 1) > end ? 0 : ip->ttl;
}

#define LB_SRC 0
#define LB_DST 1

/* NAT: sets the source or destination address (and port, unless 0) of a
 * TCP/UDP packet, updating the IP and L4 checksums incrementally, and
 * decrements the TTL / hop limit when `hop`. Returns 0, or -1 when a header
 * is cut short (nothing written then). */
static __always_inline int lb_rewrite(void *data, void *end, __u64 l3, __u64 l4, __u32 v6, __u8 proto,
				      int which, const __u32 *addr, __u16 port, int hop)
{
	__u16 *l4sum, *pp;
	__u32 diff;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4;
		if ((void *)(th + 1) > end)
			return -1;
		l4sum = &th->check;
		pp = which == LB_DST ? &th->dest : &th->source;
	} else {
		struct udphdr *uh = data + l4;
		if ((void *)(uh + 1) > end)
			return -1;
		l4sum = &uh->check;
		pp = which == LB_DST ? &uh->dest : &uh->source;
	}

	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		__u32 *a;
		if ((void *)(ip6 + 1) > end)
			return -1;
		a = which == LB_DST ? (__u32 *)&ip6->daddr : (__u32 *)&ip6->saddr;
		diff = csum_diff128(0, a, addr);
		a[0] = addr[0];
		a[1] = addr[1];
		a[2] = addr[2];
		a[3] = addr[3];
		if (hop)
			ip6->hop_limit--;
	} else {
		struct iphdr *ip = data + l3;
		__u32 *a, ipdiff;
		if ((void *)(ip + 1) > end)
			return -1;
		a = which == LB_DST ? &ip->daddr : &ip->saddr;
		diff = csum_diff32(0, *a, addr[0]);
		ipdiff = diff;
		*a = addr[0];
		if (hop) {
			__u16 *w = (__u16 *)&ip->ttl, old = *w;
			ip->ttl--;
			ipdiff = csum_diff16(ipdiff, old, *w);
		}
		csum_apply(&ip->check, ipdiff);
	}

	if (port) {
		__u16 np = bpf_htons(port);
		diff = csum_diff16(diff, *pp, np);
		*pp = np;
	}
	if (proto == IPPROTO_UDP && !v6) {
		csum_apply_udp4(l4sum, diff);
	} else {
		csum_apply(l4sum, diff);
		if (proto == IPPROTO_UDP && !*l4sum)  /* UDP over IPv6: 0 is not a checksum */
			*l4sum = 0xffff;
	}
	return 0;
}

/* Decrements the TTL / hop limit (DSR keeps it: the balancer is a switch there). */
static __always_inline void lb_hop(void *data, void *end, __u64 l3, __u32 v6)
{
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) <= end)
			ip6->hop_limit--;
		return;
	}
	struct iphdr *ip = data + l3;
	if ((void *)(ip + 1) <= end) {
		__u16 *w = (__u16 *)&ip->ttl, old = *w;
		ip->ttl--;
		csum_apply(&ip->check, csum_diff16(0, old, *w));
	}
}

/* Reads the addresses of the packet into a flow key. Returns -1 when cut short. */
static __always_inline int lb_addrs(void *data, void *end, __u64 l3, __u32 v6, struct xdpd_lb_flow_key *fk)
{
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(fk->src, &ip6->saddr, 16);
		__builtin_memcpy(fk->dst, &ip6->daddr, 16);
		fk->family = 6;
	} else {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return -1;
		fk->src[0] = ip->saddr;
		fk->dst[0] = ip->daddr;
		fk->family = 4;
	}
	return 0;
}

/* The service of a VIP: (address, proto, port), then, when services of all
 * ports exist, (address, proto, all ports). */
static __always_inline struct xdpd_lb_vip *lb_vip(struct lb_scratch *sc, const __u32 *addr, __u8 family,
						  __u8 proto, __u16 port, __u32 all_ports)
{
	struct xdpd_lb_vip_key *vk = &sc->vk;
	struct xdpd_lb_vip *vip;

	__builtin_memcpy(vk->addr, addr, 16);
	vk->port = port;
	vk->proto = proto;
	vk->family = family;
	vip = bpf_map_lookup_elem(&xdpd_lb_vips, vk);
	if (vip || !port || !all_ports)  /* the second lookup only where it can hit */
		return vip;
	vk->port = 0;
	return bpf_map_lookup_elem(&xdpd_lb_vips, vk);
}

#endif
