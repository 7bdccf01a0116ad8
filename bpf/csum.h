/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Incremental Internet checksum updates (RFC 1624, eqn. 3): when 16-bit words
 * m change to m', a checksum HC becomes ~(~HC + sum(~m) + sum(m')). The words
 * are taken as they sit in the packet; the one's complement sum does not care
 * about byte order as long as the checksum field is read the same way. Several
 * changes accumulate into one diff, applied once per checksum. Never a full
 * recompute: the cost does not depend on the packet's length. */
#ifndef XDPD_BPF_CSUM_H
#define XDPD_BPF_CSUM_H

#include "common.h"

static __always_inline __u32 csum_diff16(__u32 acc, __u16 old, __u16 new)
{
	return acc + (__u16)~old + new;
}

/* A 32-bit word (an IPv4 address, a quarter of an IPv6 address). */
static __always_inline __u32 csum_diff32(__u32 acc, __u32 old, __u32 new)
{
	acc = csum_diff16(acc, (__u16)(old >> 16), (__u16)(new >> 16));
	return csum_diff16(acc, (__u16)old, (__u16)new);
}

static __always_inline __u32 csum_diff128(__u32 acc, const __u32 *old, const __u32 *new)
{
	acc = csum_diff32(acc, old[0], new[0]);
	acc = csum_diff32(acc, old[1], new[1]);
	acc = csum_diff32(acc, old[2], new[2]);
	return csum_diff32(acc, old[3], new[3]);
}

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Applies a diff to the checksum at *sum. */
static __always_inline void csum_apply(__u16 *sum, __u32 diff)
{
	*sum = (__u16)~csum_fold((__u32)(__u16)~*sum + csum_fold(diff));
}

/* The same for a UDP checksum over IPv4, where 0 means "none" (left alone)
 * and a computed 0 is sent as 0xffff (RFC 768). */
static __always_inline void csum_apply_udp4(__u16 *sum, __u32 diff)
{
	if (!*sum)
		return;
	csum_apply(sum, diff);
	if (!*sum)
		*sum = 0xffff;
}

#endif
