/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control protocol between ndrguard-control and ndrguard-dataplane (shared/DESIGN.md §5):
 * a Unix stream socket carrying length-prefixed frames, each with this versioned header.
 * The only control header the dataplane includes. Types only; both sides own their codecs.
 */
#ifndef NDG_CONTROL_PROTO_CTL_PROTO_T_H
#define NDG_CONTROL_PROTO_CTL_PROTO_T_H

#include <stdint.h>

/* Bumped on any incompatible change; a peer with another version is refused at HELLO. */
#define CTL_PROTO_VERSION 1

/* Largest frame, header included: bounds every read on both sides. */
#define CTL_PROTO_MAX_FRAME (64u * 1024u)

enum ctl_msg_type {
	CTL_MSG_NONE = 0,   /* never sent: catches zeroed frames */
	CTL_MSG_HELLO,	    /* version handshake, first frame each way */
	CTL_MSG_CONFIG,	    /* full configuration push */
	CTL_MSG_DIR_BEGIN,  /* start of a directory snapshot */
	CTL_MSG_DIR_ADD,    /* batch of address digests to add */
	CTL_MSG_DIR_DEL,    /* batch of address digests to remove */
	CTL_MSG_DIR_COMMIT, /* publish the snapshot or deltas (RCU swap) */
	CTL_MSG_BLOCK_ADD,  /* blocklist prefix with expiry */
	CTL_MSG_BLOCK_DEL,  /* blocklist prefix removal */
	CTL_MSG_STATS,	    /* counters request / reply */
	CTL_MSG_LOG,	    /* decision-record subscription and records */
	CTL_MSG_ERROR,	    /* request refused: errno-style code + text */
	CTL_MSG_MAX
};

/* Wire header, little-endian, packed by construction (no padding). */
struct ctl_msg_hdr {
	uint16_t version; /* CTL_PROTO_VERSION */
	uint16_t type;	  /* enum ctl_msg_type */
	uint32_t len;	  /* payload bytes after this header */
	uint32_t seq;	  /* request id, echoed in the reply */
	uint32_t flags;	  /* per-type flags, 0 when unused */
};

#endif /* NDG_CONTROL_PROTO_CTL_PROTO_T_H */
