/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* L4 load balancer, the last stage. A TCP/UDP packet to a VIP (address,
 * protocol, port or all ports) goes to one of the VIP's backends: the one its
 * flow has in the connection table, else the one the VIP's Maglev ring gives
 * the flow's hash (bpf/lb_core.h).
 *   NAT: destination address and port become the backend's; the backend's
 *        replies come back through here and get the VIP as their source.
 *   DSR: only the MACs change; the backend holds the VIP itself and answers
 *        the client directly.
 * Out with XDP_TX when the backend sits behind the interface the packet came
 * in on, else XDP_REDIRECT to the interface the kernel's routing table names.
 * ICMP to a VIP: bpf/lb_icmp.h. Every exit is counted with its reason. */
#ifndef XDPD_BPF_LB_H
#define XDPD_BPF_LB_H

#include "lb_core.h"
#include "lb_icmp.h"

/* Forwards a packet of a flow to vip's backend: NAT or DSR. */
static __always_inline __u32 lb_forward_to(struct xdp_md *ctx, struct lb_scratch *sc, __u64 l3, __u64 l4,
					   __u32 v6, __u8 proto,
					   const struct xdpd_lb_vip *vip, const struct lb_choice *c, __u64 now,
					   struct xdpd_lb_vip_stats *vs)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct xdpd_lb_backend_stats *bs = lb_backend_stats(c->slot);
	const struct xdpd_lb_backend *be = c->be;
	__u32 dsr = vip->flags & XDPD_LB_VIP_F_DSR;
	struct lb_nexthop *nh = 0;
	__u64 len = lb_len(ctx, data, end);
	__u32 act = XDPD_ACT_PASS;
	int rc;

	rc = lb_backend_route(ctx, sc, c->slot, be, proto, now, &nh);
	if (rc == LB_NH_FAIL || (rc == LB_NH_NEIGH && dsr) || (rc == LB_NH_OK && !nh)) {
		if (vs)
			vs->no_route++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	}
	if (lb_too_big(data, end, l3, v6, rc, nh, vs))
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_OVERSIZED);
	if (!dsr && lb_rewrite(data, end, l3, l4, v6, proto, LB_DST, be->addr, be->port, rc == LB_NH_OK))
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);  /* cannot happen: headers parsed */
	act = lb_out(ctx, rc, nh, vs, vs ? &vs->fwd : 0, bs ? &bs->fwd : 0, len);
	if (act == XDPD_ACT_ABORTED)
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	if (bs && !c->hit)
		bs->new_flows++;
	/* NAT with an unresolved neighbour: the kernel routes the rewritten
	 * packet, and resolves the neighbour on the way. */
	if (rc == LB_NH_NEIGH)
		return LB_RESULT(XDPD_ACT_PASS, XDPD_R_LB_NEIGH_PASS);
	return LB_RESULT(act, XDPD_R_LB_FORWARD);
}

/* TCP/UDP to a VIP (or IP fragments to a VIP address). Global: checked once by
 * the verifier, with unknown offsets. */
__noinline int xdpd_lb_forward(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 meta)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct lb_scratch *sc = lb_scratch();
	struct xdpd_lb_runtime *rt = lb_runtime();
	struct xdpd_lb_flow_key *fk;
	struct xdpd_lb_vip_stats *vs;
	struct xdpd_lb_vip *vip;
	struct lb_choice c = {};
	__u32 v6 = meta & LB_META_V6;
	__u8 proto = LB_META_PROTO(meta);
	__u16 *ports;
	__u64 now;

	if (!sc || !rt || l3 > LB_MAX_L3 || l4 > LB_MAX_L4)
		return LB_NOT_MINE;
	fk = &sc->fk;
	__builtin_memset(fk, 0, sizeof(*fk));
	if (lb_addrs(data, end, l3, v6, fk))
		return LB_NOT_MINE;
	fk->proto = proto;

	if (meta & LB_META_FRAG) {
		/* No ports to balance on: dropped when the address is a VIP's. */
		vip = lb_vip(sc, fk->dst, fk->family, 0, 0, 0);
		if (!vip)
			return LB_NOT_MINE;
		vs = lb_vip_stats(vip->index);
		if (vs)
			vs->fragments++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_FRAGMENT);
	}

	ports = data + l4;
	if ((void *)(ports + 2) > end)
		return LB_NOT_MINE;
	fk->sport = bpf_ntohs(ports[0]);
	fk->dport = bpf_ntohs(ports[1]);
	vip = lb_vip(sc, fk->dst, fk->family, proto, fk->dport, rt->all_ports);
	if (!vip)
		return LB_NOT_MINE;

	/* NAT routes: a packet whose TTL would expire dies here, before it
	 * takes a place in the connection table */
	if (!(vip->flags & XDPD_LB_VIP_F_DSR) && lb_ttl(data, end, l3, v6) <= 1)
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_TTL);
	vs = lb_vip_stats(vip->index);
	now = lb_now();
	if (!lb_pick(sc, rt, vip, fk, meta & LB_META_SYN, now, 1, &c, vs)) {
		lb_probe_note(vip->index, LB_NO_SLOT, 0);
		if (vs)
			vs->no_backend++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_BACKEND);
	}
	lb_probe_note(vip->index, c.slot, c.hit);
	return lb_forward_to(ctx, sc, l3, l4, v6, proto, vip, &c, now, vs);
}

/* TCP/UDP from a NAT backend's service address and port: the source becomes
 * the VIP's, and the packet goes to the client by the kernel's routing table.
 * Packets to this host itself (answers to its health checks) are left alone.
 * No per-flow state: a reply is recognised by its source alone, so replies
 * keep flowing when the connection table is full or was evicted. */
__noinline int xdpd_lb_reply(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 meta)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct lb_scratch *sc = lb_scratch();
	struct xdpd_lb_backend_stats *bs;
	struct xdpd_lb_vip_stats *vs;
	struct xdpd_lb_flow_key *fk;
	struct xdpd_lb_nat_key *nk;
	struct lb_nexthop *nh;
	struct xdpd_lb_nat *nat;
	__u32 v6 = meta & LB_META_V6, act = XDPD_ACT_PASS;
	__u8 proto = LB_META_PROTO(meta);
	__u64 len;
	__u16 *ports;
	int rc;

	if (!sc || l3 > LB_MAX_L3 || l4 > LB_MAX_L4 || (meta & LB_META_FRAG))
		return LB_NOT_MINE;
	fk = &sc->fk;
	nk = &sc->nk;
	nh = &sc->nh;
	__builtin_memset(fk, 0, sizeof(*fk));
	if (lb_addrs(data, end, l3, v6, fk))
		return LB_NOT_MINE;
	ports = data + l4;
	if ((void *)(ports + 2) > end)
		return LB_NOT_MINE;
	__builtin_memcpy(nk->addr, fk->src, 16);
	nk->port = bpf_ntohs(ports[0]);
	nk->proto = proto;
	nk->family = fk->family;
	nat = bpf_map_lookup_elem(&xdpd_lb_nat, nk);
	/* Exact port only: a second lookup for all-port backends would cost every
	 * other packet; the config requires DSR for services of all ports. */
	if (!nat)
		return LB_NOT_MINE;

	vs = lb_vip_stats(nat->vip);
	bs = lb_backend_stats(nat->backend);
	len = lb_len(ctx, data, end);
	rc = lb_fib(ctx, sc, v6, fk->dst, proto, nh);
	if (rc == LB_NH_LOCAL)
		return LB_NOT_MINE;  /* to this host (health checks): not a NAT reply */
	if (lb_ttl(data, end, l3, v6) <= 1)
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_TTL);
	if (rc == LB_NH_FAIL) {
		if (vs)
			vs->no_route++;
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	}
	if (lb_too_big(data, end, l3, v6, rc, nh, vs))
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_OVERSIZED);
	if (lb_rewrite(data, end, l3, l4, v6, proto, LB_SRC, nat->vip_addr, nat->vip_port, rc == LB_NH_OK))
		return LB_NOT_MINE;
	act = lb_out(ctx, rc, nh, vs, vs ? &vs->reply : 0, bs ? &bs->reply : 0, len);
	if (act == XDPD_ACT_ABORTED)
		return LB_RESULT(XDPD_ACT_DROP, XDPD_R_LB_NO_ROUTE);
	if (rc == LB_NH_NEIGH)
		return LB_RESULT(XDPD_ACT_PASS, XDPD_R_LB_NEIGH_PASS);
	return LB_RESULT(act, XDPD_R_LB_REPLY);
}

/* The stage. Returns the verdict and sets *reason, or XDPD_ACT_PASS with
 * *reason untouched for traffic that is not the load balancer's. */
static __always_inline __u32 lb_run(struct xdp_md *ctx, const struct pkt *p, __u32 *reason)
{
	__u64 meta = (p->l3 == XDPD_L3_IPV6 ? LB_META_V6 : 0) | (__u64)p->key.proto << 8;
	__u32 rc = LB_NOT_MINE;

	if (p->l4 == XDPD_L4_TCP || p->l4 == XDPD_L4_UDP) {
		if (p->l4 == XDPD_L4_TCP && (p->key.tcp_flags & 0x12) == 0x02)  /* SYN, not ACK */
			meta |= LB_META_SYN;
		if (cfg_lb_nat && !cfg_lb_probe)
			rc = xdpd_lb_reply(ctx, p->l3_off, p->l4_off, meta);
		if (rc == LB_NOT_MINE)
			rc = xdpd_lb_forward(ctx, p->l3_off, p->l4_off, meta);
	} else if (p->l4 == XDPD_L4_FRAGMENT) {
		rc = xdpd_lb_forward(ctx, p->l3_off, 0, meta | LB_META_FRAG);
	} else if (p->l4 == XDPD_L4_ICMP || p->l4 == XDPD_L4_ICMPV6) {
		/* type in key.sport, code in key.dport */
		__u16 t = p->key.sport, c = p->key.dport, v6 = p->l4 == XDPD_L4_ICMPV6;

		if (c == 0 && t == (v6 ? 128 : 8))
			rc = xdpd_lb_echo(ctx, p->l3_off, p->l4_off, meta);
		else if ((v6 && t == 2 && c == 0) || (!v6 && t == 3 && c == 4))
			rc = xdpd_lb_icmp_error(ctx, p->l3_off, p->l4_off, meta);
	}
	if (rc == LB_NOT_MINE) {
		if (cfg_lb_probe)  /* the probe's answer: not to a VIP */
			lb_probe_note(LB_NO_SLOT, LB_NO_SLOT, 0);
		return XDPD_ACT_PASS;
	}
	*reason = (rc >> 8) & 0xff;
	switch (rc & 0xff) {  /* back to constants for the verifier */
	case XDPD_ACT_TX:
		return XDPD_ACT_TX;
	case XDPD_ACT_REDIRECT:
		return XDPD_ACT_REDIRECT;
	case XDPD_ACT_PASS:
		return XDPD_ACT_PASS;
	default:
		return XDPD_ACT_DROP;
	}
}

#endif
