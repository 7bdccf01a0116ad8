// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The xdpd pipeline: parse -> watch -> shield -> firewall -> rate limits ->
 * steering | SYN cookies -> load balancer -> stats (and observe: capture, top
 * sources, events). Each stage is a header; the ones switched off at load
 * time (cfg_*) are pruned by the verifier. */
#include "common.h"
#include "maps.h"
#include "parse.h"
#include "shield.h"
#include "watch.h"
#include "firewall.h"
#include "ratelimit.h"
#include "syncookie.h"
#include "lb.h"
#include "steer.h"
#include "stats.h"

SEC("xdp.frags")
int xdpd_pipeline(struct xdp_md *ctx)
{
	struct pkt p = {};
	__u32 reason, action, zero = 0;
	const struct xdpd_watch *watch = 0;
	struct xdpd_runtime *rt;
	__u32 limit = 0;
	int rc;

	rc = xdpd_parse(ctx, &p);
	if (rc != PARSE_OK)
		return stats_record(ctx, &p, cfg_malformed_action, rc);

	if (p.l3 != XDPD_L3_IPV4 && p.l3 != XDPD_L3_IPV6)
		return stats_record(ctx, &p, XDPD_ACT_PASS, XDPD_R_NON_IP);

	/* The runtime switches every stage reads (one inlined array lookup). */
	rt = bpf_map_lookup_elem(&xdpd_runtime, &zero);
	if (!rt)
		return stats_record(ctx, &p, XDPD_ACT_PASS, XDPD_R_NO_FIREWALL);

	/* stage: watch (mitigation counters and state) -- bpf/watch.h */
	if (cfg_watch)
		watch = watch_run(&p, rt);

	/* stage: shield (allow list, bans) -- bpf/shield.h */
	if (cfg_shield && shield_run(&p, rt) == SHIELD_DROP)
		return stats_record(ctx, &p, XDPD_ACT_DROP, XDPD_R_BANNED);

	/* stage: firewall -- bpf/firewall.h */
	reason = XDPD_R_NO_FIREWALL;
	if (cfg_fw_enabled) {
		action = fw_run(&p, rt, &reason, &limit);
		if (action != XDPD_ACT_PASS)
			return stats_record(ctx, &p, action, reason);
	}

	/* stage: rate limits of the allow rule, or of a watch under attack, which
	 * takes precedence -- bpf/ratelimit.h */
	if (cfg_ratelimit) {
		if (cfg_watch && watch && watch->limit)
			limit = watch->limit;
		if (limit) {
			__u32 over = ratelimit_run(&p, rt, limit);
			if (over)
				return stats_record(ctx, &p, XDPD_ACT_DROP, over);
		}
	}

	/* stage: steering of what a steer rule let in: to an AF_XDP socket or
	 * another CPU, instead of the stages below -- bpf/steer.h */
	if (cfg_steer && p.steer) {
		action = steer_run(ctx, &p, &reason);
		return stats_record(ctx, &p, action, reason);
	}

	/* stage: SYN cookies, always or where a watch switched them on --
	 * bpf/syncookie.h */
	action = XDPD_ACT_PASS;
	if (cfg_syncookie &&
	    (!cfg_syncookie_auto || (cfg_watch && watch && (watch->flags & XDPD_WATCH_F_SYNCOOKIE))))
		action = syncookie_run(ctx, &p, &reason);

	/* stage: load balancer: to a VIP, or a NAT backend's reply -- bpf/lb.h */
	if (cfg_lb && action == XDPD_ACT_PASS)
		action = lb_run(ctx, &p, &reason);

	return stats_record(ctx, &p, action, reason);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
