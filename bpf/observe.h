/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Observe, after the verdict: what xdpd_observe asks for, per packet.
 *  - capture: packets matching the filter (verdict, reason, rule, interface,
 *    addresses, protocol, ports), 1 in N of them, go to the perf buffer
 *    xdpd_capture_events with an xdpd_capture_hdr (`xdpd capture`);
 *  - top sources: 1 packet in N per CPU counts against its source in
 *    xdpd_top_sources (`xdpd top`, metrics);
 *  - events: packets whose reason is in event_reasons go to the ring buffer
 *    xdpd_events, at most event_rate per second per CPU (`xdpd events`).
 * With all of it off a packet pays one array load and a branch (stats.h);
 * the work itself is a global function, verified once. */
#ifndef XDPD_BPF_OBSERVE_H
#define XDPD_BPF_OBSERVE_H

#include "common.h"
#include "maps.h"

#define OBS_CAPTURE 0x1
#define OBS_TOP     0x2
#define OBS_EVENT   0x4

/* Is addr (network order, IPv4 in [0]) inside net/len? */
static __always_inline int obs_prefix_match(const __u32 *addr, const __u32 *net, __u32 len)
{
	for (int i = 0; i < 4; i++) {
		__u32 bits, mask;

		if (len <= 32 * i)
			break;
		bits = len - 32 * i;
		mask = bits >= 32 ? 0xffffffffu : bpf_htonl(~0u << (32 - bits));
		if ((addr[i] ^ net[i]) & mask)
			return 0;
	}
	return 1;
}

static __always_inline int obs_filter_match(const struct xdpd_capture_filter *f, const struct pkt *p,
					    __u32 ifindex, __u32 action, __u32 reason)
{
	const struct xdpd_fw_key *k = &p->key;

	if (f->verdicts && !(f->verdicts & (1u << (action & 31))))
		return 0;
	if (f->reasons && !(f->reasons & (1ull << (reason & 63))))
		return 0;
	if (f->rule && f->rule != p->rule)
		return 0;
	if (f->ifindex && f->ifindex != ifindex)
		return 0;
	/* header fields: a packet without them (malformed early, non-IP)
	 * matches no filter that names one */
	if ((f->family || f->proto || f->flags || f->sport || f->dport || f->port) &&
	    k->family != 4 && k->family != 6)
		return 0;
	if (f->family && f->family != k->family)
		return 0;
	if (f->proto && f->proto != k->proto)
		return 0;
	if (f->sport && f->sport != k->sport)
		return 0;
	if (f->dport && f->dport != k->dport)
		return 0;
	if (f->port && f->port != k->sport && f->port != k->dport)
		return 0;
	if ((f->flags & XDPD_CAP_F_SRC) && !obs_prefix_match(k->src, f->src, f->src_len))
		return 0;
	if ((f->flags & XDPD_CAP_F_DST) && !obs_prefix_match(k->dst, f->dst, f->dst_len))
		return 0;
	if ((f->flags & XDPD_CAP_F_HOST) && !obs_prefix_match(k->src, f->src, f->src_len) &&
	    !obs_prefix_match(k->dst, f->src, f->src_len))
		return 0;
	return 1;
}

static __always_inline void obs_capture(struct xdp_md *ctx, const struct pkt *p, const struct xdpd_observe *o,
					struct xdpd_observe_cpu *oc, __u32 action, __u32 reason)
{
	struct xdpd_capture_hdr h = {};
	__u64 len, caplen;

	if (!obs_filter_match(&o->filter, p, ctx->ingress_ifindex, action, reason))
		return;
	oc->capture_seen++;
	if (o->capture_sample > 1 && (oc->capture_seen % o->capture_sample))
		return;
	len = bpf_xdp_get_buff_len(ctx);
	caplen = o->capture_snaplen;
	if (caplen > XDPD_CAPTURE_MAX_SNAP)
		caplen = XDPD_CAPTURE_MAX_SNAP;
	if (caplen > len)
		caplen = len;
	h.time_ns = bpf_ktime_get_ns();
	h.ifindex = ctx->ingress_ifindex;
	h.rx_queue = ctx->rx_queue_index;
	h.len = len;
	h.caplen = caplen;
	h.action = action;
	h.reason = reason;
	h.rule = p->rule;
	if (bpf_perf_event_output(ctx, &xdpd_capture_events, (caplen << 32) | BPF_F_CURRENT_CPU, &h, sizeof h))
		oc->capture_lost++;
	else
		oc->capture_sent++;
}

static __always_inline void obs_top(const struct pkt *p, __u32 action)
{
	struct xdpd_top_key k = {};
	struct xdpd_top_count *c;

	if (p->key.family == 4) {
		__u32 *w = (__u32 *)k.addr;
		w[2] = bpf_htonl(0x0000ffff);
		w[3] = p->key.src[0];
	} else if (p->key.family == 6) {
		__builtin_memcpy(k.addr, p->key.src, 16);
	} else {
		return;
	}
	c = bpf_map_lookup_elem(&xdpd_top_sources, &k);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, p->len);
		if (action == XDPD_ACT_DROP)
			__sync_fetch_and_add(&c->dropped, 1);
	} else {
		struct xdpd_top_count init = { .packets = 1, .bytes = p->len,
					       .dropped = action == XDPD_ACT_DROP };
		bpf_map_update_elem(&xdpd_top_sources, &k, &init, BPF_NOEXIST);
	}
}

static __always_inline void obs_event(struct xdp_md *ctx, const struct pkt *p, const struct xdpd_observe *o,
				      struct xdpd_observe_cpu *oc, __u32 action, __u32 reason)
{
	__u64 now = bpf_ktime_get_ns();
	struct xdpd_dp_event *e;

	if (now - oc->event_window_ns >= 1000000000ull) {
		oc->event_window_ns = now;
		oc->event_count = 0;
	}
	if (oc->event_count >= o->event_rate) {
		oc->events_dropped++;
		return;
	}
	e = bpf_ringbuf_reserve(&xdpd_events, sizeof(*e), 0);
	if (!e) {
		oc->events_dropped++;
		return;
	}
	oc->event_count++;
	oc->events_sent++;
	e->time_ns = now;
	e->ifindex = ctx->ingress_ifindex;
	e->reason = reason;
	e->action = action;
	__builtin_memcpy(e->src, p->key.src, sizeof(e->src));
	__builtin_memcpy(e->dst, p->key.dst, sizeof(e->dst));
	e->sport = p->key.sport;
	e->dport = p->key.dport;
	e->family = p->key.family;
	e->proto = p->key.proto;
	e->_pad = 0;
	e->rule = p->rule;
	e->_pad2 = 0;
	bpf_ringbuf_submit(e, 0);
}

/* what: OBS_* bits the caller found due. */
__noinline int xdpd_observe_pkt(struct xdp_md *ctx, struct pkt *p, __u32 action, __u32 reason, __u32 what)
{
	__u32 zero = 0;
	const struct xdpd_observe *o = bpf_map_lookup_elem(&xdpd_observe, &zero);
	struct xdpd_observe_cpu *oc = bpf_map_lookup_elem(&xdpd_observe_cpu, &zero);

	if (!p || !o || !oc)  /* a global function's pointers may be null */
		return 0;
	if (what & OBS_TOP)
		obs_top(p, action);
	if (what & OBS_EVENT)
		obs_event(ctx, p, o, oc, action, reason);
	if (what & OBS_CAPTURE)
		obs_capture(ctx, p, o, oc, action, reason);
	return 0;
}

#endif
