/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data plane's ABI: every limit, enum and map layout shared by the BPF
 * programs (bpf/) and the control plane (src/). This is the only definition;
 * never copy a number from here into another file.
 */
#ifndef XDPD_ABI_H
#define XDPD_ABI_H

#include <linux/types.h>

/* ---- limits ------------------------------------------------------------ */
#define XDPD_MAX_IFACES        64      /* interfaces one data plane serves     */
#define XDPD_MAX_VLAN_DEPTH    2       /* 802.1Q / 802.1ad tags parsed         */
#define XDPD_MAX_IPV6_EXT      6       /* IPv6 extension headers walked        */
#define XDPD_FW_MAX_RULES      16384   /* rules in one rule set                */
#define XDPD_FW_MAX_SLOTS      (2 * XDPD_FW_MAX_RULES + 1) /* counter slots: room for the
                                        running and the next rule set; 0 = none */
#define XDPD_FW_MAX_TUPLES     128     /* distinct match shapes per rule set   */
#define XDPD_FW_MAX_ENTRIES    (1u << 20) /* classifier entries, both generations */
#define XDPD_FW_COUNT_CHAIN    4       /* `count` rules remembered per entry   */
#define XDPD_MAX_BANS          (1u << 20) /* banned sources or prefixes            */
#define XDPD_MAX_ALLOW         65536   /* allow-listed sources or prefixes     */
#define XDPD_MAX_LIMITS        64      /* rate-limit profiles                  */
#define XDPD_MAX_BUCKETS       (1u << 20) /* rate-limit buckets (LRU): sources, prefixes, destinations */
#define XDPD_GCRA_RETRIES      8       /* cmpxchg attempts on one bucket       */
#define XDPD_FW_PRIO_NONE      0xffffffffu
#define XDPD_FW_BLOOM_WORDS    (1u << 16) /* u64 words of Bloom filter per generation (4 Mbit) */
#define XDPD_SYNCOOKIE_MAX_PORTS 16    /* TCP ports protected by SYN cookies   */
#define XDPD_MAX_WATCHES       64      /* mitigation watches; 0 = the default one */
#define XDPD_MAX_WATCH_PREFIXES 1024   /* destination prefixes of all watches  */
#define XDPD_WATCH_HLL         256     /* HyperLogLog registers per watch      */
#define XDPD_MAX_TRACKED_SOURCES 16384 /* (source, watch) pairs sampled under attack */
#define XDPD_LB_MAX_VIPS       64      /* load-balanced services (VIP, proto, port) */
#define XDPD_LB_RING_SIZE      65537   /* Maglev lookup table per VIP (a prime) */
#define XDPD_LB_MAX_BACKENDS   4096    /* (VIP, backend) pairs                 */
#define XDPD_LB_MAX_FLOWS      (1u << 19) /* connection table entries          */
#define XDPD_TOP_SOURCES       16384   /* sources in the sampled top-sources table */
#define XDPD_CAPTURE_MAX_SNAP  65484   /* longest capture snap length: what one perf record
                                           holds (16-bit size) beside its headers */
#define XDPD_EVENTS_RING_BYTES (256 * 1024) /* data-plane event ring buffer  */
#define XDPD_XSK_MAX_QUEUES    64      /* RX queues per interface with an AF_XDP socket slot */
#define XDPD_MAX_CPUS          1024    /* CPUMAP entries: CPU ids steering can target */

/* ---- verdicts: equal to enum xdp_action -------------------------------- */
enum xdpd_action {
	XDPD_ACT_ABORTED = 0,
	XDPD_ACT_DROP = 1,
	XDPD_ACT_PASS = 2,
	XDPD_ACT_TX = 3,
	XDPD_ACT_REDIRECT = 4,
	XDPD_ACT_MAX
};

/* ---- why a verdict was taken: every exit of the pipeline has one -------- */
enum xdpd_reason {
	XDPD_R_NO_FIREWALL = 0,   /* firewall off: passed                       */
	XDPD_R_NON_IP,            /* ARP, LLDP, ...: passed                     */
	XDPD_R_FW_ALLOW,          /* an allow rule matched                      */
	XDPD_R_FW_DENY,           /* a deny rule matched                        */
	XDPD_R_FW_MONITOR,        /* a deny rule matched in monitor mode: passed */
	XDPD_R_DEFAULT_ALLOW,     /* no rule matched, default policy allow      */
	XDPD_R_DEFAULT_DENY,      /* no rule matched, default policy deny       */
	XDPD_R_DEFAULT_MONITOR,   /* default deny in monitor mode: passed       */
	XDPD_R_TRUNC_ETH,         /* shorter than an Ethernet header            */
	XDPD_R_TRUNC_VLAN,        /* VLAN tag cut short                         */
	XDPD_R_VLAN_DEPTH,        /* more than XDPD_MAX_VLAN_DEPTH tags         */
	XDPD_R_TRUNC_IPV4,        /* IPv4 header (or its options) cut short     */
	XDPD_R_BAD_IPV4,          /* version != 4, IHL < 5, total length < IHL  */
	XDPD_R_TRUNC_IPV6,        /* IPv6 header cut short                      */
	XDPD_R_BAD_IPV6,          /* version != 6                               */
	XDPD_R_TRUNC_IPV6_EXT,    /* an extension header cut short              */
	XDPD_R_IPV6_EXT_DEPTH,    /* more than XDPD_MAX_IPV6_EXT headers        */
	XDPD_R_TRUNC_TCP,         /* TCP header or its options cut short        */
	XDPD_R_BAD_TCP,           /* TCP data offset < 5                        */
	XDPD_R_TRUNC_UDP,
	XDPD_R_TRUNC_ICMP,
	XDPD_R_BANNED,            /* source on the ban list (shield)            */
	XDPD_R_SYNCOOKIE_SENT,    /* SYN to a protected port: cookie SYN-ACK sent (TX) */
	XDPD_R_SYNCOOKIE_OK,      /* ACK with a valid SYN cookie: passed to SYNPROXY */
	XDPD_R_SYNCOOKIE_BAD,     /* ACK to a protected port without connection or valid cookie: dropped */
	XDPD_R_RATE_SOURCE,       /* over its rule's per-source rate            */
	XDPD_R_RATE_PREFIX,       /* over its rule's per-prefix (/24, /64) rate */
	XDPD_R_RATE_DEST,         /* over its rule's per-destination ceiling    */
	XDPD_R_LB_FORWARD,        /* to a VIP: sent to its backend (TX/REDIRECT) */
	XDPD_R_LB_REPLY,          /* from a NAT backend: rewritten to come from the VIP */
	XDPD_R_LB_ICMP_ECHO,      /* echo request to a VIP: answered (TX)       */
	XDPD_R_LB_ICMP_ERROR,     /* "fragmentation needed"/"packet too big" for a VIP flow: to its backend */
	XDPD_R_LB_NEIGH_PASS,     /* NAT: backend's MAC unknown: rewritten, passed to the kernel to route */
	XDPD_R_LB_NO_BACKEND,     /* to a VIP without a backend in service: dropped */
	XDPD_R_LB_NO_ROUTE,       /* no route, neighbour or egress interface to the backend: dropped */
	XDPD_R_LB_OVERSIZED,      /* longer than the egress MTU: dropped        */
	XDPD_R_LB_FRAGMENT,       /* IP fragment to a VIP (no ports to balance on): dropped */
	XDPD_R_LB_TTL,            /* NAT: TTL/hop limit would expire: dropped */
	XDPD_R_STEER_XSK,         /* steer rule: to the AF_XDP socket of its RX queue (REDIRECT) */
	XDPD_R_STEER_NO_SOCKET,   /* steer rule, no socket on its queue: steer.no_socket (PASS or DROP) */
	XDPD_R_STEER_NO_META,     /* steered to a socket without metadata (driver cannot adjust_meta) */
	XDPD_R_STEER_CPU,         /* steer rule: to another CPU's CPUMAP thread (REDIRECT) */
	XDPD_R_STEER_NO_CPU,      /* steer rule: target CPU has no CPUMAP entry: passed */
	XDPD_R_MAX
};

/* Counter slots per reason in xdpd_if_stats: room to add reasons without
 * changing the pinned map's layout. */
#define XDPD_R_SLOTS 64

/* Malformed-packet reasons form one contiguous range. */
#define XDPD_R_MALFORMED_FIRST XDPD_R_TRUNC_ETH
#define XDPD_R_MALFORMED_LAST  XDPD_R_TRUNC_ICMP

enum xdpd_l3 { XDPD_L3_IPV4 = 0, XDPD_L3_IPV6, XDPD_L3_ARP, XDPD_L3_OTHER, XDPD_L3_MAX };
enum xdpd_l4 {
	XDPD_L4_TCP = 0, XDPD_L4_UDP, XDPD_L4_ICMP, XDPD_L4_ICMPV6,
	XDPD_L4_FRAGMENT,  /* non-first fragment: no L4 header              */
	XDPD_L4_OTHER, XDPD_L4_NONE /* not IP */, XDPD_L4_MAX
};

struct xdpd_counter {
	__u64 packets;
	__u64 bytes;
};

/* Counter slots per action, L3 and L4 class: powers of two, so the data
 * plane indexes them with a mask the verifier can follow. */
#define XDPD_ACT_SLOTS 8
#define XDPD_L3_SLOTS  4
#define XDPD_L4_SLOTS  8

/* Verdicts a reason is counted under: a packet's reason and its action
 * together (a monitor-mode deny passes, a malformed packet is dropped or
 * passed, an LB packet is sent with TX or REDIRECT). The data plane never
 * returns XDP_ABORTED with a reason. */
#define XDPD_VERDICTS 4
#define XDPD_VERDICT_SLOT(act) (((act) - 1) & (XDPD_VERDICTS - 1)) /* drop 0, pass 1, tx 2, redirect 3 */

/* Value of xdpd_stats (PERCPU_ARRAY, one slot per attached interface). */
struct xdpd_if_stats {
	struct xdpd_counter action[XDPD_ACT_SLOTS];
	struct xdpd_counter reason[XDPD_R_SLOTS][XDPD_VERDICTS];
	struct xdpd_counter l3[XDPD_L3_SLOTS];
	struct xdpd_counter l4[XDPD_L4_SLOTS];
};

#ifdef __cplusplus
/* A reason's packets and bytes over every verdict. */
inline xdpd_counter xdpd_reason_total(const xdpd_if_stats& s, unsigned r)
{
	xdpd_counter t{};
	for (const auto& c : s.reason[r]) t.packets += c.packets, t.bytes += c.bytes;
	return t;
}
#endif

/* ---- runtime switches: xdpd_runtime (ARRAY[1], mmapable) ---------------- */
struct xdpd_fw_generation {
	__u32 n_tuples;        /* tuples in use, sorted by min_prio            */
	__u32 default_action;  /* XDPD_FW_ALLOW or XDPD_FW_DENY               */
	__u32 has_rules;       /* 0: rule set empty, only the default applies  */
	__u32 _pad;
};

struct xdpd_runtime {
	__u32 active_gen;      /* 0 or 1: the rule set packets use             */
	__u32 monitor;         /* 1: deny verdicts are counted, not enforced   */
	struct xdpd_fw_generation gen[2];
	__u32 n_allow;         /* entries in xdpd_allow: 0 skips the lookup     */
	__u32 n_bans;          /* entries in xdpd_bans: 0 skips the lookup      */
	__u64 fake_now_ns;     /* tests: the data plane's clock; 0 = real time  */
	__u32 n_watch_prefixes;/* entries in xdpd_watch_prefixes: 0 = all traffic is watch 0 */
	__u32 track_sources;   /* 1-in-N packets (power of 2) feed xdpd_watch_sources; 0 = off */
};

/* ---- shield: allow list and bans (LPM tries, IPv4 as ::ffff:a.b.c.d) --- */
struct xdpd_lpm_key {
	__u32 prefixlen;       /* IPv4 /n is 96 + n                             */
	__u8 addr[16];
};

enum xdpd_origin { XDPD_ORIGIN_CONFIG = 0, XDPD_ORIGIN_API, XDPD_ORIGIN_AUTO };

/* Value of xdpd_bans. Expired entries no longer match and the daemon removes
 * them within a second. Times are CLOCK_MONOTONIC (bpf_ktime_get_ns). */
struct xdpd_ban {
	__u64 expires_ns;      /* 0: until removed                              */
	__u64 created_ns;
	__u64 hits;            /* packets dropped, all CPUs (atomic adds)       */
	__u32 origin;          /* enum xdpd_origin                              */
	char reason[36];
};

/* ---- rate limits: GCRA per bucket, exact across CPUs (cmpxchg) --------
 * A rate of R per second with burst B is an emission interval T = 1/R and a
 * tolerance (B - 1) * T. A bucket keeps its theoretical arrival time (TAT); a
 * packet conforms when max(TAT, now) - now <= tolerance, and then moves TAT
 * forward by T (by its length * T for byte rates). */
enum xdpd_limit_level { XDPD_LIM_SOURCE = 0, XDPD_LIM_PREFIX, XDPD_LIM_DEST, XDPD_LIM_LEVELS };

struct xdpd_rate {
	__u64 interval;        /* 0: no limit. ns per packet, or ps per byte   */
	__u64 tolerance_ns;    /* (burst - 1) * interval, in ns                 */
};

/* Value of xdpd_limits (ARRAY[XDPD_MAX_LIMITS]). */
struct xdpd_limit {
	struct xdpd_rate pkt[XDPD_LIM_LEVELS];
	struct xdpd_rate byte[XDPD_LIM_LEVELS];
	__u8 prefix_v4;        /* XDPD_LIM_PREFIX aggregates sources by these  */
	__u8 prefix_v6;
	__u8 _pad[6];
};

/* Key and value of xdpd_buckets (LRU_HASH). addr: the source, the source's
 * prefix, or the destination, IPv4 as ::ffff:a.b.c.d, masked. */
struct xdpd_bucket_key {
	__u8 addr[16];
	__u16 limit;
	__u8 level;            /* enum xdpd_limit_level                         */
	__u8 _pad;
};

struct xdpd_bucket {
	__u64 tat_pkt;         /* ns, on the data plane's clock                 */
	__u64 tat_byte;
};

/* Value of xdpd_allow: sources never banned or rate-limited. */
struct xdpd_allow {
	__u64 hits;
	__u32 origin;
	__u32 _pad;
};

/* ---- automatic mitigation: what the daemon watches and switches --------
 * Every IP packet is counted, before any stage drops it, for the watch its
 * destination falls in (xdpd_watch_prefixes, LPM; no match = watch 0, the
 * default). The daemon turns the counters into smoothed rates, detects attacks
 * and sets the watch's state, which later stages obey. */
enum xdpd_watch_proto { XDPD_WP_TCP = 0, XDPD_WP_UDP, XDPD_WP_ICMP, XDPD_WP_OTHER, XDPD_WP_MAX };

/* Value of xdpd_watch_stats (PERCPU_ARRAY[XDPD_MAX_WATCHES]). */
struct xdpd_watch_stats {
	struct xdpd_counter proto[XDPD_WP_MAX];
	__u64 syn;             /* TCP segments with SYN and without ACK         */
};

/* Value of xdpd_watch_hll (PERCPU_ARRAY[XDPD_MAX_WATCHES]): HyperLogLog
 * registers over source addresses; the daemon merges CPUs (max) and clears
 * them every interval: distinct sources per interval. */
struct xdpd_watch_hll {
	__u8 reg[XDPD_WATCH_HLL];
};

#define XDPD_WATCH_F_ATTACK    0x1  /* under attack (informational)            */
#define XDPD_WATCH_F_SYNCOOKIE 0x2  /* SYN cookies on (syncookies.mode: auto)  */

/* Value of xdpd_watch (ARRAY[XDPD_MAX_WATCHES]): the mitigation in force. */
struct xdpd_watch {
	__u32 limit;           /* rate-limit profile + 1 for all traffic to the watch; 0 = none */
	__u32 flags;           /* XDPD_WATCH_F_*                                */
	__u64 since;           /* CLOCK_REALTIME seconds the attack began       */
};

/* Key and value of xdpd_watch_sources (LRU_HASH): sampled packets per source
 * and watch while tracking is on; the daemon bans the heaviest. */
struct xdpd_source_key {
	__u8 addr[16];         /* IPv4 as ::ffff:a.b.c.d                        */
	__u32 watch;
};

struct xdpd_source_count {
	__u64 packets;         /* sampled: multiply by track_sources            */
	__u64 bytes;
};

/* ---- L4 load balancer (bpf/lb.h, docs/loadbalancer.md) ----------------
 * A service is a VIP: (address, protocol, port or 0 for all ports). Its
 * backends are slots of xdpd_lb_backends; its Maglev table, built by the
 * control plane, is XDPD_LB_RING_SIZE slot numbers in xdpd_lb_rings, at
 * index * XDPD_LB_RING_SIZE. A new flow takes ring[flow hash % size]; the
 * connection table keeps established flows on their backend when the ring
 * changes. */
#define XDPD_LB_VIP_F_DSR  0x1  /* direct server return: only MACs rewritten */
#define XDPD_LB_VIP_F_ADDR 0x2  /* the address entry (proto 0, port 0): ICMP */

/* Key of xdpd_lb_vips (HASH). IPv4 in addr[0]; network order; port host order. */
struct xdpd_lb_vip_key {
	__u32 addr[4];
	__u16 port;            /* 0: all ports                                  */
	__u8 proto;            /* IPPROTO_TCP, IPPROTO_UDP; 0: address entry     */
	__u8 family;           /* 4 or 6                                        */
};

struct xdpd_lb_vip {
	__u32 index;           /* ring and counters; < XDPD_LB_MAX_VIPS          */
	__u32 flags;           /* XDPD_LB_VIP_F_*                               */
	__u32 n_ring;          /* backends in the ring; 0: new flows dropped    */
	__u32 _pad;
};

#define XDPD_LB_BE_UP 0x1      /* in service: its flows stay. Down (failed
                                  health checks, removed): its flows re-hash */

/* Value of xdpd_lb_backends (ARRAY[XDPD_LB_MAX_BACKENDS]). */
struct xdpd_lb_backend {
	__u32 addr[4];         /* IPv4 in addr[0]; network order                */
	__u16 port;            /* host order; 0: the packet's port (all-port VIPs) */
	__u8 family;           /* 4 or 6; 0: slot free                          */
	__u8 flags;            /* XDPD_LB_BE_*                                  */
	__u32 gen;             /* changes when the slot is given to another backend */
	__u32 vip;             /* VIP index                                     */
};

/* Key of xdpd_lb_nat (HASH): where NAT replies come from, so that they are
 * rewritten to come from the VIP without per-flow state. */
struct xdpd_lb_nat_key {
	__u32 addr[4];         /* backend address                              */
	__u16 port;            /* backend port, host order                     */
	__u8 proto;
	__u8 family;
};

struct xdpd_lb_nat {
	__u32 vip_addr[4];
	__u16 vip_port;        /* host order                                    */
	__u16 _pad;
	__u32 vip;             /* VIP index (counters)                          */
	__u32 backend;         /* slot (counters)                               */
};

/* Key and value of xdpd_lb_flows (LRU_HASH with per-CPU LRU lists): the
 * backend of each flow. */
struct xdpd_lb_flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;           /* host order                                    */
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u16 _pad;
};

struct xdpd_lb_flow {
	__u64 atime_ns;        /* last packet, updated at most once a second    */
	__u32 backend;         /* slot                                          */
	__u32 gen;             /* the slot's gen when the flow was made         */
};

/* Value of xdpd_lb_runtime (ARRAY[1]). */
struct xdpd_lb_runtime {
	__u64 udp_timeout_ns;  /* idle UDP flows re-hash after this             */
	__u32 new_flow_limit;  /* flows inserted per second per CPU; 0: no limit */
	__u32 all_ports;       /* 1: a service of all ports exists, so a packet whose
	                          (VIP, proto, port) is no service looks for one */
};

/* Value of xdpd_lb_probe (ARRAY[1], per program instance): what the LB
 * stage of a probe instance (`xdpd lb lookup`) decided for its packet. A probe
 * instance inserts no flow and counts nothing. */
struct xdpd_lb_probe {
	__u32 seq;             /* incremented by every probed packet            */
	__u32 vip;             /* VIP index; ~0: not to a VIP                   */
	__u32 backend;         /* slot; ~0: none                                */
	__u32 table_hit;       /* 1: from the connection table, 0: from the ring */
};

/* Value of xdpd_lb_vip_stats (PERCPU_ARRAY[XDPD_LB_MAX_VIPS]). */
struct xdpd_lb_vip_stats {
	struct xdpd_counter fwd;   /* to the VIP, sent to a backend             */
	struct xdpd_counter reply; /* NAT replies rewritten to the VIP          */
	__u64 new_flows;           /* flows that took a backend from the ring   */
	__u64 table_hit;           /* connection table hits                     */
	__u64 table_miss;
	__u64 not_inserted;        /* new flows the new-flow guard kept out of the table */
	__u64 no_backend;
	__u64 no_route;
	__u64 oversized;
	__u64 icmp_echo;
	__u64 icmp_error;
	__u64 fragments;
};

/* Value of xdpd_lb_backend_stats (PERCPU_ARRAY[XDPD_LB_MAX_BACKENDS]). */
struct xdpd_lb_backend_stats {
	struct xdpd_counter fwd;
	struct xdpd_counter reply;
	__u64 new_flows;
	__u64 _pad;
};

/* ---- firewall classifier (tuple space search) --------------------------- */
enum xdpd_fw_verdict { XDPD_FW_ALLOW = 0, XDPD_FW_DENY = 1, XDPD_FW_COUNT = 2 };

#define XDPD_FWK_F_FRAG 0x01   /* key.flags: non-first fragment, no L4 header */

/* The packet fields rules match on. IPv4 addresses sit in src[0]/dst[0],
 * network byte order; ports in host byte order; for ICMP/ICMPv6, sport holds
 * the type and dport the code. Masked per tuple, then `tuple` is set to
 * (generation << 15 | tuple index) before the hash lookup. */
struct xdpd_fw_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u32 ifindex;
	__u16 vlan;            /* outer VLAN id, 0 = untagged                  */
	__u8 proto;
	__u8 tcp_flags;
	__u8 family;           /* 4 or 6                                       */
	__u8 flags;            /* XDPD_FWK_F_*                                 */
	__u16 tuple;
};

/* Bloom filter in front of the entries: xdpd_fw_bloom (ARRAY of __u64,
 * 2 * XDPD_FW_BLOOM_WORDS, gen-major, mmapable). Bit xdpd_fw_bloom_hash(key)
 * is set for every entry key (tuple field included); a packet whose masked key
 * hits a clear bit skips that tuple's hash lookup. One hash, computed the same
 * way by the data plane and the installer: multilinear over the key's 32-bit
 * words (independent multiplies, cheap in BPF), then a final mix. */

#ifdef __bpf__
#define XDPD_INLINE static __always_inline
#else
#define XDPD_INLINE static inline
#endif

XDPD_INLINE __u64 xdpd_fw_bloom_hash(const __u32 *w)
{
#define XDPD_MIX(i, k0, k1) (((__u64)w[i] + (k1)) * (k0))
	__u64 h = XDPD_MIX(0, 0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull) +
		  XDPD_MIX(1, 0x94d049bb133111ebull, 0x2545f4914f6cdd1dull) +
		  XDPD_MIX(2, 0xd6e8feb86659fd93ull, 0xa0761d6478bd642full) +
		  XDPD_MIX(3, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull) +
		  XDPD_MIX(4, 0x589965cc75374cc3ull, 0x1d8e4e27c47d124full) +
		  XDPD_MIX(5, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull) +
		  XDPD_MIX(6, 0x27d4eb2f165667c5ull, 0x85ebca77c2b2ae63ull) +
		  XDPD_MIX(7, 0x9fb21c651e98df25ull, 0xc6a4a7935bd1e995ull) +
		  XDPD_MIX(8, 0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull) +
		  XDPD_MIX(9, 0x87c37b91114253d5ull, 0x4cf5ad432745937full) +
		  XDPD_MIX(10, 0x52dce729da3ed1d7ull, 0x38495ab5ba3bb9b3ull) +
		  XDPD_MIX(11, 0xdaa66d2bc0b1d0e5ull, 0x2127599bf4325c37ull);
#undef XDPD_MIX
	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* Hash of a source address (4 words as in xdpd_fw_key.src) for the watch's
 * HyperLogLog: register = h & (XDPD_WATCH_HLL - 1), rank = 1 + trailing zero
 * bits of (__u32)(h >> 8), 33 when those are all zero. */
XDPD_INLINE __u64 xdpd_source_hash(const __u32 *s)
{
	__u64 h = ((__u64)s[0] + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull +
		  ((__u64)s[1] + 0x94d049bb133111ebull) * 0x2545f4914f6cdd1dull +
		  ((__u64)s[2] + 0xd6e8feb86659fd93ull) * 0xa0761d6478bd642full +
		  ((__u64)s[3] + 0xe7037ed1a0b428dbull) * 0x8ebc6af09c88c6e3ull;
	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* Hash of a flow (xdpd_lb_flow_key as 10 words, _pad zero) that picks its
 * Maglev slot: hash % XDPD_LB_RING_SIZE. Every node computes the same one. */
XDPD_INLINE __u64 xdpd_lb_flow_hash(const __u32 *w)
{
	__u64 h = ((__u64)w[0] + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull +
		  ((__u64)w[1] + 0x94d049bb133111ebull) * 0x2545f4914f6cdd1dull +
		  ((__u64)w[2] + 0xd6e8feb86659fd93ull) * 0xa0761d6478bd642full +
		  ((__u64)w[3] + 0xe7037ed1a0b428dbull) * 0x8ebc6af09c88c6e3ull +
		  ((__u64)w[4] + 0x589965cc75374cc3ull) * 0x1d8e4e27c47d124full +
		  ((__u64)w[5] + 0xc2b2ae3d27d4eb4full) * 0x165667b19e3779f9ull +
		  ((__u64)w[6] + 0x27d4eb2f165667c5ull) * 0x85ebca77c2b2ae63ull +
		  ((__u64)w[7] + 0x9fb21c651e98df25ull) * 0xc6a4a7935bd1e995ull +
		  ((__u64)w[8] + 0xff51afd7ed558ccdull) * 0xc4ceb9fe1a85ec53ull +
		  ((__u64)w[9] + 0x87c37b91114253d5ull) * 0x4cf5ad432745937full;
	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* Flow hash of steering (xdpd_xsk_meta.flow_hash; spreading over CPUs takes
 * cpus[hash % n_cpus]): xdpd_lb_flow_hash over the packet's xdpd_lb_flow_key
 * (as 10 words: addresses as in xdpd_fw_key, ports in host order -- for
 * ICMP/ICMPv6 the type and code, 0 for non-first fragments --, proto,
 * family, _pad zero), folded to 32 bits. Not symmetric: the two directions of
 * a connection hash differently. */
XDPD_INLINE __u32 xdpd_steer_flow_hash(const __u32 *w)
{
	__u64 h = xdpd_lb_flow_hash(w);
	return (__u32)(h ^ (h >> 32));
}

/* Word and bit of the filter for hash h in generation gen. */
#define XDPD_FW_BLOOM_WORD(gen, h) ((gen) * XDPD_FW_BLOOM_WORDS + (__u32)(((h) >> 6) & (XDPD_FW_BLOOM_WORDS - 1)))
#define XDPD_FW_BLOOM_BIT(h)       (1ull << ((h) & 63))

/* Protocol classes for a tuple's prefilter (one bit each). */
#define XDPD_PC_TCP    0x01
#define XDPD_PC_UDP    0x02
#define XDPD_PC_ICMP   0x04
#define XDPD_PC_ICMPV6 0x08
#define XDPD_PC_OTHER  0x10
#define XDPD_PC_ANY    0x1f
#define XDPD_FAM_V4    0x01
#define XDPD_FAM_V6    0x02

/* Value of xdpd_fw_tuples (ARRAY[2 * XDPD_FW_MAX_TUPLES], gen-major).
 * families/protos: which IP versions and protocol classes the tuple's entries
 * can match; a packet outside them skips the tuple without a hash lookup. */
struct xdpd_fw_tuple {
	struct xdpd_fw_key mask;
	__u32 min_prio;        /* best (lowest) rule priority in this tuple     */
	__u8 families;         /* XDPD_FAM_* bits                               */
	__u8 protos;           /* XDPD_PC_* bits                                */
	__u16 _pad;
};

struct xdpd_fw_ref {
	__u32 prio;            /* rule position: lower wins                     */
	__u32 slot;            /* counter slot in xdpd_rule_stats               */
};

/* Value of xdpd_fw_entries (HASH, key xdpd_fw_key). */
struct xdpd_fw_entry {
	struct xdpd_fw_ref rule;  /* first allow/deny/steer rule for this key, or prio NONE */
	__u32 action;             /* XDPD_FW_ALLOW / XDPD_FW_DENY (steer rules: ALLOW) */
	__u32 n_count;            /* `count` rules ahead of `rule`                */
	struct xdpd_fw_ref count[XDPD_FW_COUNT_CHAIN];
	__u32 limit;              /* allow and steer rules: rate-limit profile + 1, 0 = none */
	__u32 steer;              /* steer rules: XDPD_STEER_*; 0 = not a steer rule */
};

/* xdpd_fw_entry.steer: where a steer rule sends the packets it lets in, after
 * the rate limits, instead of SYN cookies, load balancer and kernel
 * (bpf/steer.h, docs/steering.md). */
#define XDPD_STEER_NONE      0u
#define XDPD_STEER_XSK       1u          /* AF_XDP socket of the packet's RX queue */
#define XDPD_STEER_SPREAD    2u          /* a CPU of xdpd_steer.cpus by flow hash  */
#define XDPD_STEER_PIN       0x80000000u /* | CPU id: that CPU                      */
#define XDPD_STEER_PIN_CPU(s) ((s) & ~XDPD_STEER_PIN)

/* ---- observability: capture, top sources, events (bpf/observe.h) -------
 * Value of xdpd_observe (ARRAY[1], mmapable), written by the daemon and by
 * `xdpd capture`. Every packet reads it once at the end of the pipeline; all
 * zero means nothing more is done (one load and a branch). */
#define XDPD_CAP_F_SRC  0x01   /* match src/src_len                          */
#define XDPD_CAP_F_DST  0x02
#define XDPD_CAP_F_HOST 0x04   /* src or dst in src/src_len                  */

struct xdpd_capture_filter {
	__u32 verdicts;        /* bit per XDP action; 0 = any                   */
	__u32 rule;            /* firewall rule counter slot + 1; 0 = any       */
	__u64 reasons;         /* bit per enum xdpd_reason; 0 = any             */
	__u32 ifindex;         /* 0 = any                                      */
	__u8 family;           /* 0 = any, 4 or 6                               */
	__u8 proto;            /* IP protocol; 0 = any                          */
	__u8 flags;            /* XDPD_CAP_F_*                                  */
	__u8 _pad;
	__u16 sport;           /* 0 = any; host order                           */
	__u16 dport;
	__u16 port;            /* either port; 0 = any                          */
	__u8 src_len;          /* prefix lengths (IPv4: 0..32, IPv6: 0..128)    */
	__u8 dst_len;
	__u32 src[4];          /* network order; IPv4 in [0]                    */
	__u32 dst[4];
};

struct xdpd_observe {
	__u32 capture;         /* 1: a capture runs (xdpd_capture_events)       */
	__u32 capture_sample;  /* 1-in-N matching packets; 0 or 1 = every one   */
	__u32 capture_snaplen; /* bytes of each packet, <= XDPD_CAPTURE_MAX_SNAP */
	__u32 capture_owner;   /* pid of the capturing process (the daemon ends
	                          a capture whose process is gone)               */
	struct xdpd_capture_filter filter;
	__u32 top_sample;      /* 1-in-N packets per CPU (power of 2) feed
	                          xdpd_top_sources; 0 = off                      */
	__u32 event_rate;      /* data-plane events per second per CPU          */
	__u64 event_reasons;   /* bit per enum xdpd_reason that raises an event */
};

/* Per-CPU state of xdpd_observe_cpu: the capture's sampling counter, the
 * event budget's window. */
struct xdpd_observe_cpu {
	__u64 capture_seen;    /* packets that matched the filter              */
	__u64 capture_sent;    /* packets written to the perf buffer           */
	__u64 capture_lost;    /* perf buffer full                             */
	__u64 event_window_ns;
	__u32 event_count;     /* events in the current window                 */
	__u32 _pad;
	__u64 events_sent;
	__u64 events_dropped;  /* over event_rate, or the ring buffer full      */
};

/* Record of xdpd_capture_events (PERF_EVENT_ARRAY): this header, then
 * caplen bytes of the packet as it leaves the pipeline (rewritten for TX and
 * REDIRECT; as received for DROP and PASS). */
struct xdpd_capture_hdr {
	__u64 time_ns;         /* bpf_ktime_get_ns()                           */
	__u32 ifindex;
	__u32 rx_queue;
	__u32 len;             /* packet length                                 */
	__u32 caplen;          /* bytes that follow                             */
	__u16 action;          /* XDP action                                    */
	__u16 reason;          /* enum xdpd_reason                              */
	__u32 rule;            /* deciding firewall rule's slot + 1; 0 = none   */
};

/* Key and value of xdpd_top_sources (LRU_HASH, XDPD_TOP_SOURCES): sampled
 * packets per source address; the daemon ranks them by rate. */
struct xdpd_top_key {
	__u8 addr[16];         /* IPv4 as ::ffff:a.b.c.d                        */
};

struct xdpd_top_count {
	__u64 packets;         /* sampled: multiply by top_sample               */
	__u64 bytes;
	__u64 dropped;         /* sampled packets that were dropped             */
};

/* Record of xdpd_events (RINGBUF): a packet the data plane thought worth
 * telling the daemon about (a reason in event_reasons), at most event_rate
 * per second per CPU. */
struct xdpd_dp_event {
	__u64 time_ns;         /* bpf_ktime_get_ns()                           */
	__u32 ifindex;
	__u16 reason;          /* enum xdpd_reason                              */
	__u16 action;
	__u32 src[4];          /* network order; IPv4 in [0]                    */
	__u32 dst[4];
	__u16 sport, dport;    /* host order                                    */
	__u8 family;           /* 4, 6; 0: not IP or malformed before the addresses */
	__u8 proto;
	__u16 _pad;
	__u32 rule;            /* firewall rule slot + 1; 0 = none              */
	__u32 _pad2;
};

/* ---- steering: AF_XDP sockets and CPUMAP (bpf/steer.h, docs/steering.md)
 * xdpd_xsks (XSKMAP, pinned): an application puts its AF_XDP socket's fd at
 * XDPD_XSK_INDEX(interface slot, RX queue); `xdpd status --json` lists each
 * interface's slot. Queues >= XDPD_XSK_MAX_QUEUES have no socket slot. */
#define XDPD_XSK_INDEX(slot, queue) ((slot) * XDPD_XSK_MAX_QUEUES + (queue))
#define XDPD_XSK_ENTRIES            (XDPD_MAX_IFACES * XDPD_XSK_MAX_QUEUES)

/* Value of xdpd_steer (ARRAY[1]), written by the daemon: the CPUs flows are
 * spread over (rules `to: cpu` without `cpu:`): cpus[flow_hash % n_cpus]. */
struct xdpd_steer_config {
	__u32 n_cpus;          /* 0: spreading passes the packet (steer_no_cpu) */
	__u32 _pad;
	__u32 cpus[XDPD_MAX_CPUS];
};

/* Metadata in front of every packet steered to an AF_XDP socket: the
 * XDPD_XSK_META_SIZE bytes immediately before the packet data in the UMEM
 * frame (rx descriptor addr - XDPD_XSK_META_SIZE). The trailer (magic,
 * version, size) is the last 4 bytes, right before the packet, so an
 * application checks it first: a later version may grow the struct at its
 * front. Multi-byte fields in host order. */
#define XDPD_XSK_META_MAGIC   0x7844u  /* "Dx" as little-endian bytes 'D' 'x' */
#define XDPD_XSK_META_VERSION 1
#define XDPD_XSK_META_SIZE    28

struct xdpd_xsk_meta {
	__u32 flow_hash;       /* xdpd_steer_flow_hash() of the packet: the hash
	                          CPU spreading uses                             */
	__u32 rule;            /* the steer rule's counter slot + 1 (`xdpd rules
	                          --json`: "slot"; stable across reloads)       */
	__u32 ifindex;         /* ingress interface                             */
	__u16 rx_queue;        /* ingress RX queue                              */
	__u16 ifslot;          /* the interface's slot (XDPD_XSK_INDEX)         */
	__u8 l3;               /* enum xdpd_l3                                  */
	__u8 l4;               /* enum xdpd_l4                                  */
	__u8 proto;            /* IP protocol (IPv6: after extension headers)   */
	__u8 _pad;
	__u16 l3_off;          /* offset of the IP header in the packet         */
	__u16 l4_off;          /* offset of the L4 header; 0: none (fragment)   */
	__u16 magic;           /* XDPD_XSK_META_MAGIC                           */
	__u8 version;          /* XDPD_XSK_META_VERSION                         */
	__u8 size;             /* sizeof(struct xdpd_xsk_meta)                  */
};

/* Per-target-CPU counters of steering (xdpd_steer_cpu_stats, PERCPU_ARRAY
 * [XDPD_MAX_CPUS], index: target CPU): packets redirected to each CPU. */

/* Per-queue counters of steering to AF_XDP (xdpd_steer_xsk_stats,
 * PERCPU_ARRAY[XDPD_XSK_ENTRIES], index XDPD_XSK_INDEX(slot, queue)): packets
 * redirected to the queue's socket, and packets that found none there. */
struct xdpd_xsk_queue_stats {
	struct xdpd_counter redirected;
	struct xdpd_counter no_socket;
};

/* ---- control-plane bookkeeping, pinned so a restarted daemon finds it --- */
enum xdpd_mode { XDPD_MODE_NONE = 0, XDPD_MODE_NATIVE, XDPD_MODE_SKB, XDPD_MODE_HW };

/* Value of xdpd_ifaces (ARRAY[XDPD_MAX_IFACES]); index = stats slot. */
struct xdpd_iface {
	__u32 ifindex;         /* 0: slot free                                 */
	__u32 mode;            /* enum xdpd_mode                               */
	char name[16];
	__u64 attached_at;     /* CLOCK_REALTIME seconds                       */
};

/* xdpd_fw_slots (HASH, 2 * XDPD_FW_MAX_RULES): rule fingerprint -> counter
 * slot, so that a rule keeps its counters across reloads and restarts. */

#endif /* XDPD_ABI_H */
