/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Steering: a packet a `steer` rule let in (after shield, firewall and rate
 * limits) goes to userspace or to another CPU instead of SYN cookies, load
 * balancer and the kernel on this CPU.
 *
 *   to: xsk   the AF_XDP socket an application put at XDPD_XSK_INDEX(slot of
 *             this interface, RX queue) of xdpd_xsks, with struct
 *             xdpd_xsk_meta written in front of the packet. No socket there:
 *             cfg_steer_no_socket (steer.no_socket: pass or drop).
 *   to: cpu   the CPUMAP thread of a pinned CPU, or of xdpd_steer.cpus[flow
 *             hash % n_cpus]; the kernel stack then runs on that CPU.
 *
 * Compiled in only when a rule steers (cfg_steer); docs/steering.md. */
#ifndef XDPD_BPF_STEER_H
#define XDPD_BPF_STEER_H

#include "common.h"
#include "maps.h"

_Static_assert(sizeof(struct xdpd_xsk_meta) == XDPD_XSK_META_SIZE, "xdpd_xsk_meta size");
_Static_assert(XDPD_XSK_META_SIZE % 4 == 0 && XDPD_XSK_META_SIZE <= 32,
	       "bpf_xdp_adjust_meta takes up to 32 bytes, a multiple of 4");
_Static_assert((XDPD_MAX_CPUS & (XDPD_MAX_CPUS - 1)) == 0, "XDPD_MAX_CPUS is masked");

/* xdpd_steer_flow_hash of the packet's 5-tuple (abi.h). */
static __always_inline __u32 steer_flow_hash(const struct pkt *p)
{
	struct xdpd_lb_flow_key k = {};

	k.src[0] = p->key.src[0];
	k.src[1] = p->key.src[1];
	k.src[2] = p->key.src[2];
	k.src[3] = p->key.src[3];
	k.dst[0] = p->key.dst[0];
	k.dst[1] = p->key.dst[1];
	k.dst[2] = p->key.dst[2];
	k.dst[3] = p->key.dst[3];
	k.sport = p->key.sport;
	k.dport = p->key.dport;
	k.proto = p->key.proto;
	k.family = p->key.family;
	return xdpd_steer_flow_hash((const __u32 *)&k);
}

/* Writes struct xdpd_xsk_meta in front of the packet; 0 when the driver
 * keeps no room for metadata. */
static __always_inline int steer_write_meta(struct xdp_md *ctx, const struct pkt *p, __u32 hash)
{
	struct xdpd_xsk_meta *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return 0;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return 0;
	m->flow_hash = hash;
	m->rule = p->rule;
	m->ifindex = ctx->ingress_ifindex;
	m->rx_queue = (__u16)ctx->rx_queue_index;
	m->ifslot = (__u16)cfg_ifslot;
	m->l3 = p->l3;
	m->l4 = p->l4;
	m->proto = p->key.proto;
	m->_pad = 0;
	m->l3_off = p->l3_off;
	m->l4_off = p->l4_off;
	m->magic = XDPD_XSK_META_MAGIC;
	m->version = XDPD_XSK_META_VERSION;
	m->size = sizeof(*m);
	return 1;
}

static __always_inline __u32 steer_xsk(struct xdp_md *ctx, const struct pkt *p, __u32 hash, __u32 *reason)
{
	const __u32 queue = ctx->rx_queue_index;
	int meta = steer_write_meta(ctx, p, hash);
	struct xdpd_xsk_queue_stats *qs;
	__u32 action, idx;

	*reason = XDPD_R_STEER_NO_SOCKET;
	if (queue >= XDPD_XSK_MAX_QUEUES)
		return cfg_steer_no_socket;
	idx = XDPD_XSK_INDEX(cfg_ifslot, queue);
	action = bpf_redirect_map(&xdpd_xsks, idx, cfg_steer_no_socket);
	qs = bpf_map_lookup_elem(&xdpd_steer_xsk_stats, &idx);
	if (action != XDP_REDIRECT) {
		if (qs) {
			qs->no_socket.packets++;
			qs->no_socket.bytes += p->len;
		}
		return action;
	}
	if (qs) {
		qs->redirected.packets++;
		qs->redirected.bytes += p->len;
	}
	*reason = meta ? XDPD_R_STEER_XSK : XDPD_R_STEER_NO_META;
	return XDP_REDIRECT;
}

static __always_inline __u32 steer_cpu(const struct pkt *p, __u32 hash, __u32 *reason)
{
	const struct xdpd_steer_config *c;
	struct xdpd_counter *n;
	__u32 cpu, idx, zero = 0;

	*reason = XDPD_R_STEER_NO_CPU;
	if (p->steer & XDPD_STEER_PIN) {
		cpu = XDPD_STEER_PIN_CPU(p->steer);
	} else {
		c = bpf_map_lookup_elem(&xdpd_steer, &zero);
		if (!c || !c->n_cpus || c->n_cpus > XDPD_MAX_CPUS)
			return XDP_PASS;
		idx = hash % c->n_cpus;
		/* the mask in asm: clang drops a C mask it can prove redundant
		 * (idx < n_cpus <= XDPD_MAX_CPUS), the verifier cannot */
		asm volatile("%0 &= %1" : "+r"(idx) : "i"(XDPD_MAX_CPUS - 1));
		cpu = c->cpus[idx];
	}
	if (bpf_redirect_map(&xdpd_cpus, cpu, XDP_PASS) != XDP_REDIRECT)
		return XDP_PASS;
	n = bpf_map_lookup_elem(&xdpd_steer_cpu_stats, &cpu);
	if (n) {
		n->packets++;
		n->bytes += p->len;
	}
	*reason = XDPD_R_STEER_CPU;
	return XDP_REDIRECT;
}

/* The action for a packet whose deciding rule steers (p->steer != 0). */
static __always_inline __u32 steer_run(struct xdp_md *ctx, const struct pkt *p, __u32 *reason)
{
	const __u32 hash = steer_flow_hash(p);

	if (p->steer == XDPD_STEER_XSK)
		return steer_xsk(ctx, p, hash, reason);
	return steer_cpu(p, hash, reason);
}

#endif
