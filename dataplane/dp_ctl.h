/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control thread: the Unix-socket end of the control protocol
 * (control/proto/ctl_proto-t.h). It is the only writer of the shared tables: it builds each
 * configuration aside and publishes it by pointer swap, loads directory snapshots into the
 * recipient table, and answers STATS. Lcores only read (dp_cfg_get()).
 */
#ifndef NDG_DATAPLANE_DP_CTL_H
#define NDG_DATAPLANE_DP_CTL_H

#include <urcu/urcu-qsbr.h>

#include "dp_ctl-t.h"

extern struct dp_cfg *dp_cfg_cur;

/**
 * The configuration in force, or NULL before the first CONFIG.
 * Safe from any lcore registered with urcu-qsbr and online; the pointer stays valid until
 * the caller's next quiescent state. Lock-free.
 */
static inline const struct dp_cfg *
dp_cfg_get(void)
{
	return rcu_dereference(dp_cfg_cur);
}

/**
 * Take a reference on the configuration in force, for a session that outlives the caller's
 * read-side critical section. @return it, or NULL before the first CONFIG.
 * Any lcore registered with urcu-qsbr and online; lock-free.
 */
static inline struct dp_cfg *
dp_cfg_acquire(void)
{
	struct dp_cfg *c = rcu_dereference(dp_cfg_cur);

	/* Safe: the publisher's own reference is dropped only after a grace period. */
	if (c != NULL)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

/**
 * Drop a reference taken with dp_cfg_acquire(); the last one frees a retired configuration.
 * Any thread.
 */
void dp_cfg_release(struct dp_cfg *c);

/**
 * Create what outlives configurations: the recipient table (random SipHash key) and the
 * harvest cells. Called by dp_ctl_start(); tests call it alone. @return 0 or -ENOMEM.
 */
int dp_ctl_init(void);

/**
 * dp_ctl_init(), then listen on <path> and start the control thread. Main lcore, before the
 * workers start.
 * @return 0; -ENOMEM; -errno of socket/bind/listen; the negative value of the thread creation.
 */
int dp_ctl_start(const char *path);

/**
 * Stop the control thread, unpublish and free everything (after a grace period).
 * Main lcore, after the workers have returned.
 */
void dp_ctl_stop(void);

/**
 * Build a configuration from a CONFIG payload (as the control thread does), for tests.
 * @return the configuration, or NULL with *<err> set (-EINVAL for a malformed payload,
 *   -ENOMEM). Writer side only.
 */
struct dp_cfg *dp_cfg_build(const void *payload, size_t len, int *err);

/** Free a configuration that was never published (or after its grace period). */
void dp_cfg_free(struct dp_cfg *c);

#endif /* NDG_DATAPLANE_DP_CTL_H */
