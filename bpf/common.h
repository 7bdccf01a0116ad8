/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes, load-time configuration and the per-packet context shared by the
 * pipeline stages. */
#ifndef XDPD_BPF_COMMON_H
#define XDPD_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdpd/abi.h"

/* Load-time configuration. The control plane sets these before load; the
 * verifier then prunes every stage that is switched off, so it costs nothing. */
const volatile __u32 cfg_ifslot = 0;            /* slot in xdpd_stats        */
const volatile __u32 cfg_fw_enabled = 0;        /* firewall stage compiled in */
const volatile __u32 cfg_malformed_action = XDPD_ACT_DROP;
const volatile __u32 cfg_multibuf = 0;          /* count bytes of all frags   */
/* SYN cookies (bpf/syncookie.h): ports in host order, SYN-ACK parameters. */
const volatile __u32 cfg_syncookie = 0;         /* SYN cookie stage compiled in */
const volatile __u32 cfg_syncookie_nports = 0;
const volatile __u16 cfg_syncookie_ports[XDPD_SYNCOOKIE_MAX_PORTS] = {};
const volatile __u16 cfg_syncookie_mss4 = 1460;
const volatile __u16 cfg_syncookie_mss6 = 1440;
const volatile __u8 cfg_syncookie_wscale = 7;
const volatile __u8 cfg_syncookie_ttl = 64;
const volatile __u32 cfg_shield = 0;            /* allow list and bans        */
const volatile __u32 cfg_ratelimit = 0;         /* rate limits of allow rules */
const volatile __u32 cfg_watch = 0;             /* mitigation counters (bpf/watch.h) */
const volatile __u32 cfg_syncookie_auto = 0;    /* SYN cookies only where a watch switched them on */
const volatile __u32 cfg_lb = 0;                /* L4 load balancer (bpf/lb.h) */
const volatile __u32 cfg_lb_nat = 0;            /* ... with NAT services: replies rewritten */
const volatile __u32 cfg_lb_probe = 0;          /* `lb lookup` instance: decide, change nothing */
const volatile __u32 cfg_observe = 1;           /* capture, top sources, events (bpf/observe.h) */
const volatile __u32 cfg_steer = 0;             /* steer rules: AF_XDP sockets, CPUMAP (bpf/steer.h) */
const volatile __u32 cfg_steer_no_socket = XDPD_ACT_PASS; /* steered to a queue without socket */

/* What the parser learnt about one packet (scalars only: the parser is a
 * global function writing it). */
struct pkt {
	__u64 len;                 /* bytes, for counters                      */
	__u16 l3_off;              /* offset of the IP header                  */
	__u16 l4_off;              /* offset of the L4 header (0: none)        */
	__u8 l3;                   /* enum xdpd_l3                             */
	__u8 l4;                   /* enum xdpd_l4                             */
	__u8 trusted;              /* source on the allow list                 */
	__u8 linear;               /* the whole packet is in the first buffer  */
	struct xdpd_fw_key key;    /* the fields rules match on                */
	__u32 rule;                /* deciding firewall rule's slot + 1; 0 = none */
	__u32 steer;               /* the deciding rule's XDPD_STEER_*; 0 = none */
};

#endif
