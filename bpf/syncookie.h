/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* SYN cookies in XDP, the front half of a SYN proxy (docs/syncookies.md).
 *
 *   SYN to a protected port  -> turned into a SYN-ACK in place, whose sequence
 *                               number is a kernel SYN cookie
 *                               (bpf_tcp_raw_gen_syncookie_*): XDP_TX.
 *   ACK to a protected port  -> passed when conntrack knows the connection, or
 *                               when it carries a valid cookie
 *                               (bpf_tcp_raw_check_syncookie_*); dropped
 *                               otherwise.
 *
 * The back half is netfilter's SYNPROXY (set up by the daemon,
 * src/daemon/synproxy.cpp): it checks the cookie of the ACK once more, opens
 * the real connection to the local service and translates sequence numbers and
 * timestamps from then on. The cookies are the kernel's own (same secret), so
 * the two halves agree.
 *
 * TCP options the client asked for are remembered the kernel's way: its window
 * scale, SACK-permitted (and nothing for ECN) in the low 6 bits of our
 * timestamp, which the client echoes in the ACK. Without timestamps only the
 * MSS survives (the cookie encodes it), like the kernel's own SYN cookies.
 *
 * Anything unusual (IPv4 options, IPv6 extension headers, a SYN in several
 * buffers) is passed on: SYNPROXY in the kernel answers it instead. */
#ifndef XDPD_BPF_SYNCOOKIE_H
#define XDPD_BPF_SYNCOOKIE_H

#include "common.h"
#include "maps.h"
#include "parse.h"

/* ---- conntrack lookup (kfuncs of net/netfilter/nf_conntrack_bpf.c) ------- *
 * Weak: a kernel without them still loads the pipeline with the stage off
 * (the verifier drops the dead calls); with the stage on, the load fails. */
struct bpf_ct_opts___xdpd {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

/* Only the field we read; CO-RE finds its offset in the running kernel. */
struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple_len, struct bpf_ct_opts___xdpd *opts,
					 __u32 opts_len) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

#define SC_CT_CONFIRMED   (1ul << 3)   /* IPS_CONFIRMED                   */
#define SC_CURRENT_NETNS  (-1)         /* BPF_F_CURRENT_NETNS             */

/* ---- TCP bits --------------------------------------------------------- */
#define SC_FIN 0x01
#define SC_SYN 0x02
#define SC_RST 0x04
#define SC_ACK 0x10

#define SC_TS_WSCALE_NONE 0xf          /* low bits of our TSval: no window scaling */
#define SC_TS_SACK        0x10
#define SC_TS_BITS        6
#define SC_MAX_WSCALE     14

/* Options of a SYN that the SYN-ACK answers. */
struct sc_opts {
	__u32 tsval;      /* the client's TSval (network order), our TSecr   */
	__u8 ts;          /* timestamps offered                              */
	__u8 sack;        /* SACK permitted                                  */
	__u8 wscale;      /* the client's shift, SC_TS_WSCALE_NONE if absent  */
};

static __always_inline int sc_port_protected(__u16 port)
{
#pragma unroll
	for (int i = 0; i < XDPD_SYNCOOKIE_MAX_PORTS; i++) {
		if (i >= cfg_syncookie_nports)
			break;
		if (cfg_syncookie_ports[i] == port)
			return 1;
	}
	return 0;
}

/* Walks the SYN's options in a stack copy of its header (buf: 64 bytes,
 * doff*4 = hlen of them from the packet, the rest zero). Unrolled over byte
 * positions, so every read has a constant index: the verifier then need not
 * track the option offset precisely, and checks the walk once. */
static __always_inline void sc_parse_opts(const __u8 *buf, __u32 hlen, struct sc_opts *o)
{
	__u32 next = 20;   /* where the next option starts */
	int stop = 0;

#pragma unroll
	for (__u32 i = 20; i < 60; i++) {
		__u8 kind, len;

		if (stop || i != next || i >= hlen)
			continue;
		kind = buf[i];
		if (kind == 0) {                   /* end of options */
			stop = 1;
			continue;
		}
		if (kind == 1) {                   /* NOP */
			next = i + 1;
			continue;
		}
		len = buf[i + 1];
		if (len < 2 || i + len > hlen) {
			stop = 1;
			continue;
		}
		if (kind == 3 && len == 3) {
			__u8 ws = buf[i + 2];
			o->wscale = ws < SC_MAX_WSCALE ? ws : SC_MAX_WSCALE;
		} else if (kind == 4 && len == 2) {
			o->sack = 1;
		} else if (kind == 8 && len == 10 && i + 5 < 64) {
			o->ts = 1;
			o->tsval = (__u32)buf[i + 2] | (__u32)buf[i + 3] << 8 |
				   (__u32)buf[i + 4] << 16 | (__u32)buf[i + 5] << 24;
		}
		next = i + len;
	}
}

static __always_inline __u16 sc_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static __always_inline void sc_swap_mac(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* The SYN-ACK's TCP header (struct sc_synack, maps.h): MSS, then [SACK-perm
 * or NOP NOP] TS, then [NOP WS] when the client scales. */
static __always_inline void sc_build(struct sc_synack *s, __u32 ports, __u32 cookie, __u32 ack,
				     __u16 mss, const struct sc_opts *o)
{
	__u32 doff;

	s->len = 24;
	s->w[5] = bpf_htonl((2u << 24) | (4u << 16) | mss);
	if (o->ts) {
		/* Our TSval: a clock (2^20 ns ticks, about 1 ms) whose low bits
		 * carry the client's options, echoed back to SYNPROXY. */
		__u32 now = (__u32)(bpf_ktime_get_ns() >> 20);
		__u32 tsv = (now & ~((1u << SC_TS_BITS) - 1)) | o->wscale |
			    (o->sack ? SC_TS_SACK : 0);

		s->w[6] = bpf_htonl(o->sack ? 0x0402080a : 0x0101080a);
		s->w[7] = bpf_htonl(tsv);
		s->w[8] = o->tsval;
		s->len = 36;
		if (o->wscale != SC_TS_WSCALE_NONE) {
			s->w[9] = bpf_htonl(0x01030300 | cfg_syncookie_wscale);
			s->len = 40;
		}
	}
	doff = s->len / 4;
	s->w[0] = (ports >> 16) | (ports << 16);            /* sport <-> dport */
	s->w[1] = bpf_htonl(cookie);
	s->w[2] = bpf_htonl(ack);
	s->w[3] = bpf_htonl((doff << 28) | ((__u32)(SC_SYN | SC_ACK) << 16)); /* window 0 */
	s->w[4] = 0;                                         /* check, urg    */
}

static __always_inline __u64 sc_sum(const struct sc_synack *s)
{
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		if (i < 6 || (i < 9 && s->len >= 36) || s->len == 40)
			sum += s->w[i];
	return sum;
}

/* Writes the SYN-ACK's TCP header at th; the caller proved th + 40 is in
 * the packet only when s->len is 40, so each length writes what it owns. */
#define SC_WRITE_TCP(th, s, end, fail)                                          \
	do {                                                                    \
		__u32 *_w = (__u32 *)(th);                                      \
		if ((void *)(_w + 6) > (end))                                   \
			fail;                                                   \
		_w[0] = (s)->w[0]; _w[1] = (s)->w[1]; _w[2] = (s)->w[2];        \
		_w[3] = (s)->w[3]; _w[4] = (s)->w[4]; _w[5] = (s)->w[5];        \
		if ((s)->len >= 36) {                                           \
			if ((void *)(_w + 9) > (end))                           \
				fail;                                           \
			_w[6] = (s)->w[6]; _w[7] = (s)->w[7]; _w[8] = (s)->w[8]; \
		}                                                               \
		if ((s)->len == 40) {                                           \
			if ((void *)(_w + 10) > (end))                          \
				fail;                                           \
			_w[9] = (s)->w[9];                                      \
		}                                                               \
	} while (0)

/* SYN -> SYN-ACK. Returns XDPD_ACT_TX, or XDPD_ACT_PASS leaving the SYN to
 * the kernel (SYNPROXY answers it there).
 *
 * A global function, so that the verifier checks it once, with unknown
 * offsets, instead of once per parse path (VLAN depths x IP versions x ...),
 * which exceeds its budget with the option loop inside. The price is one
 * call (about 10 ns on this CPU), paid by SYNs to protected ports only. */
__noinline int xdpd_syncookie_syn(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 v6)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 iplen;
	__u32 hlen;
	struct sc_opts o = { .wscale = SC_TS_WSCALE_NONE };
	struct sc_scratch *sc;
	struct sc_synack *s;
	struct tcphdr *th;
	__u32 zero = 0, *src;
	__u8 *buf;
	__u32 ports, seq, cookie;
	__u16 mss;
	__s64 gen;
	long delta;

	iplen = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	if (l3 > 64 || l4 > 128 || l4 != l3 + iplen) /* IPv4 options, IPv6 ext headers */
		return XDPD_ACT_PASS;

	sc = bpf_map_lookup_elem(&xdpd_sc_scratch, &zero);
	if (!sc)
		return XDPD_ACT_PASS;
	src = sc->hdr;
	buf = (__u8 *)sc->hdr;
	s = &sc->synack;

	th = data + l4;
	if ((void *)(th + 1) > end)
		return XDPD_ACT_PASS;
	hlen = th->doff * 4;
	/* Copy the header (with options) to the stack: the cookie helper then
	 * reads a buffer of known size, and the options parse without packet
	 * bounds checks. */
#pragma unroll
	for (int i = 0; i < 15; i++) {
		/* the parser proved th + hlen is in the packet */
		if (i * 4 < hlen && (void *)((__u32 *)th + i + 1) <= end)
			src[i] = ((__u32 *)th)[i];
	}
	if (hlen < 20 || hlen > 60)
		return XDPD_ACT_PASS;
	sc_parse_opts(buf, hlen, &o);
	ports = src[0];
	seq = bpf_ntohl(src[1]);

	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return XDPD_ACT_PASS;
		gen = bpf_tcp_raw_gen_syncookie_ipv6(ip6, (struct tcphdr *)buf, hlen);
		mss = cfg_syncookie_mss6;
	} else {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return XDPD_ACT_PASS;
		if (ip->frag_off & bpf_htons(0x2000))  /* MF: a fragmented SYN */
			return XDPD_ACT_PASS;
		gen = bpf_tcp_raw_gen_syncookie_ipv4(ip, (struct tcphdr *)buf, hlen);
		mss = cfg_syncookie_mss4;
	}
	if (gen < 0)
		return XDPD_ACT_PASS;
	cookie = (__u32)gen;

	sc_build(s, ports, cookie, seq + 1, mss, &o);

	/* Resize the frame to exactly the SYN-ACK (a Linux SYN is already
	 * 40 bytes of TCP header: no resize). */
	delta = (long)(l4 + s->len) - (long)(end - data);
	if (delta) {
		if (bpf_xdp_adjust_tail(ctx, (int)delta))
			return XDPD_ACT_PASS;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
	}
	if (data + sizeof(struct ethhdr) > end)
		return XDPD_ACT_DROP;
	sc_swap_mac(data);

	if (v6) {
		struct ipv6hdr *ip6 = data + (l3 & 0xff);
		__u64 sum;
		if ((void *)ip6 + sizeof(*ip6) > end)
			return XDPD_ACT_DROP;
		/* Addresses swap; the pseudo-header sum does not care. */
		sum = bpf_htons(s->len) + bpf_htons(IPPROTO_TCP);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			__u32 a = ip6->saddr.in6_u.u6_addr32[i];
			__u32 b = ip6->daddr.in6_u.u6_addr32[i];
			ip6->saddr.in6_u.u6_addr32[i] = b;
			ip6->daddr.in6_u.u6_addr32[i] = a;
			sum += (__u64)a + b;
		}
		*(__u32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(s->len);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = cfg_syncookie_ttl;
		s->w[4] = sc_fold(sum + sc_sum(s));
		SC_WRITE_TCP((void *)(ip6 + 1), s, end, return XDPD_ACT_DROP);
	} else {
		struct iphdr *ip = data + (l3 & 0xff);
		__u32 a, b;
		__u64 sum;
		if ((void *)ip + sizeof(*ip) > end)
			return XDPD_ACT_DROP;
		a = ip->saddr;
		b = ip->daddr;
		ip->saddr = b;
		ip->daddr = a;
		*(__u16 *)ip = bpf_htons(0x4500);   /* version, IHL 5, TOS 0 */
		ip->tot_len = bpf_htons(sizeof(*ip) + s->len);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000);   /* DF */
		ip->ttl = cfg_syncookie_ttl;
		ip->protocol = IPPROTO_TCP;
		ip->check = 0;
		sum = 0;
#pragma unroll
		for (int i = 0; i < 5; i++)
			sum += ((__u32 *)ip)[i];
		ip->check = sc_fold(sum);
		sum = (__u64)a + b + bpf_htons(s->len) + bpf_htons(IPPROTO_TCP);
		s->w[4] = sc_fold(sum + sc_sum(s));
		SC_WRITE_TCP((void *)(ip + 1), s, end, return XDPD_ACT_DROP);
	}
	return XDPD_ACT_TX;
}

static __always_inline __u32 sc_handle_syn(struct xdp_md *ctx, struct pkt *p, __u32 *reason)
{
	__u32 action;

	/* a SYN in several buffers (multi-buffer XDP): left to the kernel */
	if (!p->linear)
		return XDPD_ACT_PASS;
	action = xdpd_syncookie_syn(ctx, p->l3_off, p->l4_off, p->l3 == XDPD_L3_IPV6);
	if (action == XDPD_ACT_TX)
		*reason = XDPD_R_SYNCOOKIE_SENT;
	return action == XDPD_ACT_TX ? XDPD_ACT_TX : XDPD_ACT_PASS;
}

/* ACK (or any segment with ACK set, no SYN/RST) to a protected port: 0 when
 * conntrack knows the connection, 1 for a valid cookie, 2 for neither. A
 * global function for the same reason as the SYN's: verified once. */
#define SC_ACK_KNOWN 0
#define SC_ACK_COOKIE 1
#define SC_ACK_BAD 2

__noinline int xdpd_syncookie_ack(struct xdp_md *ctx, __u64 l3, __u64 l4, __u64 v6)
{
	struct bpf_ct_opts___xdpd opts = { .netns_id = SC_CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple tup = {};
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct tcphdr *th;
	struct nf_conn *ct;
	__u32 tlen;
	long rc;

	if (l3 > 256 || l4 > 512)
		return SC_ACK_KNOWN;
	th = data + l4;
	if ((void *)(th + 1) > end)
		return SC_ACK_KNOWN;
	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return SC_ACK_KNOWN;
		__builtin_memcpy(tup.ipv6.saddr, &ip6->saddr, 16);
		__builtin_memcpy(tup.ipv6.daddr, &ip6->daddr, 16);
		tup.ipv6.sport = th->source;
		tup.ipv6.dport = th->dest;
		tlen = sizeof(tup.ipv6);
	} else {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return SC_ACK_KNOWN;
		tup.ipv4.saddr = ip->saddr;
		tup.ipv4.daddr = ip->daddr;
		tup.ipv4.sport = th->source;
		tup.ipv4.dport = th->dest;
		tlen = sizeof(tup.ipv4);
	}

	ct = bpf_xdp_ct_lookup(ctx, &tup, tlen, &opts, sizeof(opts));
	if (ct) {
		unsigned long status = ct->status;

		bpf_ct_release(ct);
		if (status & SC_CT_CONFIRMED)
			return SC_ACK_KNOWN;      /* a connection conntrack knows */
	}

	if (v6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return SC_ACK_KNOWN;
		rc = bpf_tcp_raw_check_syncookie_ipv6(ip6, th);
	} else {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return SC_ACK_KNOWN;
		rc = bpf_tcp_raw_check_syncookie_ipv4(ip, th);
	}
	return rc == 0 ? SC_ACK_COOKIE : SC_ACK_BAD;
}

static __always_inline __u32 sc_handle_ack(struct xdp_md *ctx, struct pkt *p, __u32 *reason)
{
	switch (xdpd_syncookie_ack(ctx, p->l3_off, p->l4_off, p->l3 == XDPD_L3_IPV6)) {
	case SC_ACK_COOKIE:
		*reason = XDPD_R_SYNCOOKIE_OK;
		return XDPD_ACT_PASS;
	case SC_ACK_BAD:
		*reason = XDPD_R_SYNCOOKIE_BAD;
		return XDPD_ACT_DROP;
	default:
		return XDPD_ACT_PASS;
	}
}

/* The stage: XDPD_ACT_TX (SYN-ACK), XDPD_ACT_DROP (ACK without connection
 * or cookie) or XDPD_ACT_PASS (with *reason set to SYNCOOKIE_OK for a valid
 * cookie, untouched otherwise). */
static __always_inline __u32 syncookie_run(struct xdp_md *ctx, struct pkt *p, __u32 *reason)
{
	__u8 flags = p->key.tcp_flags;

	if (p->l4 != XDPD_L4_TCP || !sc_port_protected(p->key.dport))
		return XDPD_ACT_PASS;
	if ((flags & (SC_SYN | SC_ACK | SC_RST | SC_FIN)) == SC_SYN)
		return sc_handle_syn(ctx, p, reason);
	if ((flags & (SC_SYN | SC_ACK | SC_RST)) == SC_ACK)
		return sc_handle_ack(ctx, p, reason);
	return XDPD_ACT_PASS;
}

#endif
