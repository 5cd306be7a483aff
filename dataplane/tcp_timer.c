/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timers: a hashed wheel of 1 ms ticks with intrusive, index-linked entries (O(1) arm and
 * cancel, no allocation), and the per-connection deadlines folded into one wheel entry per
 * connection. Never one rte_timer per connection. Owner lcore of the wheel only.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>

#include "lcore.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

static inline struct tcp_timer *
tcp_wheel_link(const struct tcp_wheel *w, uint32_t idx)
{
	return (struct tcp_timer *) ((char *) w->base + (size_t) idx * w->stride + w->off);
}

void
tcp_wheel_init(struct tcp_wheel *w, uint32_t *slots, uint32_t nslots, void *base, uint32_t stride,
	uint32_t off, uint32_t now)
{
	RTE_VERIFY(rte_is_power_of_2(nslots));
	w->slots = slots;
	w->mask = nslots - 1;
	w->now = now;
	w->base = base;
	w->stride = stride;
	w->off = off;
	for (uint32_t i = 0; i < nslots; i++)
		slots[i] = TCP_NIL;
}

bool
tcp_wheel_armed(const struct tcp_wheel *w, uint32_t idx)
{
	/* prev == idx marks "not linked"; a linked entry's prev is another entry or a slot. */
	return tcp_wheel_link(w, idx)->prev != idx;
}

/*
 * prev of the first entry of a slot is TCP_NIL - 1 - slot, so unlinking needs no search
 * and every value stays distinct from element indices (pools are far below 2^31).
 */
#define TCP_WHEEL_SLOTREF(s) (TCP_NIL - 1u - (s))

void
tcp_wheel_cancel(struct tcp_wheel *w, uint32_t idx)
{
	struct tcp_timer *t = tcp_wheel_link(w, idx);

	if (t->prev == idx)
		return;
	if (t->prev >= TCP_WHEEL_SLOTREF(w->mask))
		w->slots[TCP_NIL - 1u - t->prev] = t->next;
	else
		tcp_wheel_link(w, t->prev)->next = t->next;
	if (t->next != TCP_NIL)
		tcp_wheel_link(w, t->next)->prev = t->prev;
	t->next = TCP_NIL;
	t->prev = idx;
}

void
tcp_wheel_arm(struct tcp_wheel *w, uint32_t idx, uint32_t expire)
{
	struct tcp_timer *t = tcp_wheel_link(w, idx);
	uint32_t slot;

	tcp_wheel_cancel(w, idx);
	/* A deadline already past goes to the next tick's slot. */
	if ((int32_t) (expire - w->now) <= 0)
		slot = (w->now + 1) & w->mask;
	else
		slot = expire & w->mask;
	t->expire = expire;
	t->prev = TCP_WHEEL_SLOTREF(slot);
	t->next = w->slots[slot];
	if (t->next != TCP_NIL)
		tcp_wheel_link(w, t->next)->prev = idx;
	w->slots[slot] = idx;
}

unsigned int
tcp_wheel_advance(struct tcp_wheel *w, uint32_t now, void (*fire)(void *arg, uint32_t idx),
	void *arg)
{
	unsigned int fired = 0;

	if ((int32_t) (now - w->now) <= 0)
		return 0;
	/* After a long stall every slot is visited once, with a tick late enough for all. */
	if (now - w->now > w->mask + 1)
		w->now = now - (w->mask + 1);
	while (w->now != now) {
		uint32_t t = ++w->now;
		uint32_t idx = w->slots[t & w->mask];

		while (idx != TCP_NIL) {
			struct tcp_timer *e = tcp_wheel_link(w, idx);
			uint32_t next = e->next;

			if ((int32_t) (e->expire - t) <= 0) {
				tcp_wheel_cancel(w, idx);
				fire(arg, idx);
				fired++;
			}
			idx = next;
		}
	}
	return fired;
}

/* ---- per-connection deadlines ---- */

void
tcp_tmr_sync(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	uint32_t idx = (uint32_t) (c - ts->conns);
	uint32_t best = 0;
	bool any = false;

	for (unsigned int k = 0; k < TCP_TMR_MAX; k++) {
		if (!(c->tmr_on & (1u << k)))
			continue;
		if (!any || tcp_seq_lt(c->tmr[k], best))
			best = c->tmr[k];
		any = true;
	}
	if (!any) {
		tcp_wheel_cancel(&ts->wheel, idx);
		return;
	}
	if (tcp_wheel_armed(&ts->wheel, idx) && c->tmr_link.expire == best)
		return;
	tcp_wheel_arm(&ts->wheel, idx, best);
}

void
tcp_tmr_set(struct tcp_conn *c, enum tcp_tmr k, uint32_t ms)
{
	c->tmr[k] = c->ts->now + (ms ? ms : 1);
	c->tmr_on |= (uint8_t) (1u << k);
	tcp_tmr_sync(c);
}

void
tcp_tmr_clear(struct tcp_conn *c, enum tcp_tmr k)
{
	if (!(c->tmr_on & (1u << k)))
		return;
	c->tmr_on &= (uint8_t) ~(1u << k);
	tcp_tmr_sync(c);
}

static void
tcp_tmr_fire(void *arg, uint32_t idx)
{
	struct tcp_stack *ts = arg;
	struct tcp_conn *c = &ts->conns[idx];

	for (unsigned int k = 0; k < TCP_TMR_MAX; k++) {
		if (!(c->tmr_on & (1u << k)) || tcp_seq_gt(c->tmr[k], ts->now))
			continue;
		c->tmr_on &= (uint8_t) ~(1u << k);
		tcp_conn_timeout(c, (enum tcp_tmr) k);
		if (c->state == TCP_ST_CLOSED)
			return;
	}
	tcp_tmr_sync(c);
}

void
tcp_timers_run(struct tcp_stack *ts)
{
	if (!ts->clock_manual)
		ts->now = (uint32_t) ((rte_rdtsc() - ts->tsc0) / ts->tsc_per_ms);
	tcp_wheel_advance(&ts->wheel, ts->now, tcp_tmr_fire, ts);
}
