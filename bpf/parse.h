/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing: Ethernet, up to XDPD_MAX_VLAN_DEPTH VLAN tags, IPv4 with
 * options and fragments, IPv6 with extension headers, TCP, UDP, ICMP, ICMPv6.
 * Every access is bounds-checked; a packet that is cut short or inconsistent
 * yields a malformed reason (enum xdpd_reason), never an ABORTED verdict. */
#ifndef XDPD_BPF_PARSE_H
#define XDPD_BPF_PARSE_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "common.h"

#define PARSE_OK (-1)

#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS 0
#endif
#ifndef IPPROTO_ROUTING
#define IPPROTO_ROUTING 43
#endif
#ifndef IPPROTO_FRAGMENT
#define IPPROTO_FRAGMENT 44
#endif
#ifndef IPPROTO_DSTOPTS
#define IPPROTO_DSTOPTS 60
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

/* First 8 bytes of ICMP and ICMPv6 (linux/icmp.h drags in libc headers). */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be32 rest;
};

struct vlan_tag {
	__be16 tci;
	__be16 next_proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;   /* offset << 3 | M */
	__be32 id;
};

/* TCP flags byte (FIN..CWR) sits at offset 13 of the header. */
#define TCP_FLAGS_OFF 13

/* off: where the L4 header starts; ip_end: where the IP packet ends by its own
 * length field. A header that crosses ip_end is cut short too, even when the
 * frame goes on (Ethernet padding is not a TCP header). */
/* The frame being parsed (not in struct pkt: the pipeline gets scalars only). */
struct frame {
	void *data;
	void *end;
};

static __always_inline int parse_l4(const struct frame *f, struct pkt *p, __u64 off, __u64 ip_end, __u8 proto)
{
	void *data = f->data, *end = f->end;

	p->key.proto = proto;
	switch (proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = data + off;
		if ((void *)(th + 1) > end)
			return XDPD_R_TRUNC_TCP;
		if (th->doff < 5)
			return XDPD_R_BAD_TCP;
		if (data + off + th->doff * 4 > end || off + th->doff * 4 > ip_end)
			return XDPD_R_TRUNC_TCP;
		p->l4 = XDPD_L4_TCP;
		p->key.sport = bpf_ntohs(th->source);
		p->key.dport = bpf_ntohs(th->dest);
		p->key.tcp_flags = ((__u8 *)th)[TCP_FLAGS_OFF];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = data + off;
		if ((void *)(uh + 1) > end || off + sizeof(*uh) > ip_end)
			return XDPD_R_TRUNC_UDP;
		p->l4 = XDPD_L4_UDP;
		p->key.sport = bpf_ntohs(uh->source);
		p->key.dport = bpf_ntohs(uh->dest);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		struct icmp_hdr *ih = data + off;
		if ((void *)(ih + 1) > end || off + sizeof(*ih) > ip_end)
			return XDPD_R_TRUNC_ICMP;
		p->l4 = proto == IPPROTO_ICMP ? XDPD_L4_ICMP : XDPD_L4_ICMPV6;
		p->key.sport = ih->type;
		p->key.dport = ih->code;
		break;
	}
	default:
		p->l4 = XDPD_L4_OTHER;
		return PARSE_OK;
	}
	p->l4_off = off;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(const struct frame *f, struct pkt *p, __u64 off)
{
	struct iphdr *ip = f->data + off;

	p->l3 = XDPD_L3_IPV4;  /* by ethertype: malformed IPv4 counts as IPv4 too */
	if ((void *)(ip + 1) > f->end)
		return XDPD_R_TRUNC_IPV4;
	if (ip->version != 4 || ip->ihl < 5 || bpf_ntohs(ip->tot_len) < ip->ihl * 4)
		return XDPD_R_BAD_IPV4;
	if (f->data + off + ip->ihl * 4 > f->end)
		return XDPD_R_TRUNC_IPV4;

	p->key.family = 4;
	p->key.src[0] = ip->saddr;
	p->key.dst[0] = ip->daddr;
	p->key.proto = ip->protocol;
	if (ip->frag_off & bpf_htons(0x1fff)) {  /* non-first fragment */
		p->l4 = XDPD_L4_FRAGMENT;
		p->key.flags |= XDPD_FWK_F_FRAG;
		return PARSE_OK;
	}
	return parse_l4(f, p, off + ip->ihl * 4, off + bpf_ntohs(ip->tot_len), ip->protocol);
}

static __always_inline int parse_ipv6(const struct frame *f, struct pkt *p, __u64 off)
{
	struct ipv6hdr *ip6 = f->data + off;
	__u64 ip_end;
	__u8 next;

	p->l3 = XDPD_L3_IPV6;  /* by ethertype, like IPv4 */
	if ((void *)(ip6 + 1) > f->end)
		return XDPD_R_TRUNC_IPV6;
	if (ip6->version != 6)
		return XDPD_R_BAD_IPV6;

	/* payload length 0 is a jumbogram (RFC 2675): no limit from the header */
	ip_end = ip6->payload_len ? off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len) : ~0ull;
	p->key.family = 6;
	__builtin_memcpy(p->key.src, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst, &ip6->daddr, 16);
	next = ip6->nexthdr;
	off += sizeof(*ip6);

	for (int i = 0; i < XDPD_MAX_IPV6_EXT + 1; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS: {
			struct ipv6_ext *ext = f->data + off;
			if (i == XDPD_MAX_IPV6_EXT)
				return XDPD_R_IPV6_EXT_DEPTH;
			if ((void *)(ext + 1) > f->end)
				return XDPD_R_TRUNC_IPV6_EXT;
			next = ext->nexthdr;
			off += (ext->hdrlen + 1) * 8;
			if (f->data + off > f->end)  /* the whole header, not just 2 bytes */
				return XDPD_R_TRUNC_IPV6_EXT;
			break;
		}
		case IPPROTO_FRAGMENT: {
			struct ipv6_frag *fh = f->data + off;
			if (i == XDPD_MAX_IPV6_EXT)
				return XDPD_R_IPV6_EXT_DEPTH;
			if ((void *)(fh + 1) > f->end)
				return XDPD_R_TRUNC_IPV6_EXT;
			next = fh->nexthdr;
			off += sizeof(*fh);
			if (fh->frag_off & bpf_htons(0xfff8)) {
				p->key.proto = next;
				p->l4 = XDPD_L4_FRAGMENT;
				p->key.flags |= XDPD_FWK_F_FRAG;
				return PARSE_OK;
			}
			break;
		}
		default:
			if (off > 0xffff)
				return XDPD_R_TRUNC_IPV6_EXT;
			return parse_l4(f, p, off, ip_end, next);
		}
	}
	return XDPD_R_IPV6_EXT_DEPTH;
}

/* Fills p from the frame. Returns PARSE_OK, or the reason the packet is
 * malformed. Non-IP frames return PARSE_OK with p->l3 != IPv4/IPv6. */
static __always_inline int parse_frame(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct frame fr = { .data = data, .end = end }, *f = &fr;
	struct ethhdr *eth = data;
	__u64 off = sizeof(*eth);
	__u16 proto;

	p->l3 = XDPD_L3_OTHER;
	p->l4 = XDPD_L4_NONE;
	p->key.ifindex = ctx->ingress_ifindex;

	if ((void *)(eth + 1) > end)
		return XDPD_R_TRUNC_ETH;
	proto = eth->h_proto;

	for (int i = 0; i < XDPD_MAX_VLAN_DEPTH + 1; i++) {
		struct vlan_tag *tag;
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (i == XDPD_MAX_VLAN_DEPTH)
			return XDPD_R_VLAN_DEPTH;
		tag = data + off;
		if ((void *)(tag + 1) > end)
			return XDPD_R_TRUNC_VLAN;
		if (i == 0)
			p->key.vlan = bpf_ntohs(tag->tci) & 0x0fff;
		proto = tag->next_proto;
		off += sizeof(*tag);
	}

	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(f, p, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(f, p, off);
	if (proto == bpf_htons(ETH_P_ARP))
		p->l3 = XDPD_L3_ARP;
	return PARSE_OK;
}

/* The parser, as a global function: the verifier checks its paths (VLAN
 * depths x IP versions x extension headers x L4 protocols) once, and the
 * stages after it see one packet description of unknown values instead of one
 * per path, which keeps the whole pipeline far below the verifier's budget.
 * The price is one call per packet. Also sets p->len and p->linear. */
__noinline int xdpd_parse(struct xdp_md *ctx, struct pkt *p)
{
	int rc;

	if (!p)
		return XDPD_R_TRUNC_ETH;
	rc = parse_frame(ctx, p);
	p->len = cfg_multibuf ? bpf_xdp_get_buff_len(ctx) : (__u64)(ctx->data_end - ctx->data);
	p->linear = p->len == (__u64)(ctx->data_end - ctx->data);
	return rc;
}

#endif
