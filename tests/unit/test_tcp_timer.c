/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: the hashed timer wheel (arm, re-arm, cancel, deadlines past and beyond one
 * turn, stalls longer than a turn, re-arming from the callback). EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp.h"

#define N     64
#define SLOTS 16

struct elem {
	uint32_t fired_at; /* 0: not fired */
	unsigned int fires;
	struct tcp_timer link;
};

static struct elem el[N];
static uint32_t slots[SLOTS];
static struct tcp_wheel w;
static uint32_t now;
static int rearm_idx = -1;

static void
fire(void *arg, uint32_t idx)
{
	(void) arg;
	el[idx].fired_at = now;
	el[idx].fires++;
	if ((int) idx == rearm_idx)
		tcp_wheel_arm(&w, idx, now + 5);
}

static int
setup(void **state)
{
	(void) state;
	memset(el, 0, sizeof(el));
	now = 1000;
	rearm_idx = -1;
	tcp_wheel_init(&w, slots, SLOTS, el, sizeof(el[0]), offsetof(struct elem, link), now);
	for (uint32_t i = 0; i < N; i++)
		tcp_wheel_elem_init(&el[i].link, i);
	return 0;
}

static void
advance_to(uint32_t t)
{
	while (now != t) {
		now++;
		tcp_wheel_advance(&w, now, fire, NULL);
	}
}

static void
test_fire_on_time(void **state)
{
	(void) state;
	for (uint32_t i = 0; i < N; i++)
		tcp_wheel_arm(&w, i, now + 1 + i * 7); /* many beyond one turn of 16 */
	advance_to(now + 1 + (N - 1) * 7);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(el[i].fires, 1);
		assert_int_equal(el[i].fired_at, 1001 + i * 7);
		assert_false(tcp_wheel_armed(&w, i));
	}
}

static void
test_cancel_and_rearm(void **state)
{
	(void) state;
	tcp_wheel_arm(&w, 1, now + 3);
	tcp_wheel_arm(&w, 2, now + 3);
	tcp_wheel_arm(&w, 3, now + 3);
	assert_true(tcp_wheel_armed(&w, 2));
	tcp_wheel_cancel(&w, 2);
	tcp_wheel_cancel(&w, 2); /* harmless twice */
	assert_false(tcp_wheel_armed(&w, 2));
	tcp_wheel_arm(&w, 3, now + 40); /* moved later */
	advance_to(now + 3);
	assert_int_equal(el[1].fires, 1);
	assert_int_equal(el[2].fires, 0);
	assert_int_equal(el[3].fires, 0);
	advance_to(1040);
	assert_int_equal(el[3].fires, 1);
	assert_int_equal(el[3].fired_at, 1040);
}

static void
test_past_deadline(void **state)
{
	(void) state;
	tcp_wheel_arm(&w, 5, now - 10);
	advance_to(now + 1);
	assert_int_equal(el[5].fires, 1);
}

static void
test_long_stall(void **state)
{
	(void) state;
	tcp_wheel_arm(&w, 7, now + 5);
	tcp_wheel_arm(&w, 8, now + 100);
	tcp_wheel_arm(&w, 9, now + 500);
	/* One jump of 200 ticks: everything due fires, the rest stays. */
	now += 200;
	tcp_wheel_advance(&w, now, fire, NULL);
	assert_int_equal(el[7].fires, 1);
	assert_int_equal(el[8].fires, 1);
	assert_int_equal(el[9].fires, 0);
	assert_true(tcp_wheel_armed(&w, 9));
	advance_to(1500);
	assert_int_equal(el[9].fires, 1);
}

static void
test_rearm_in_callback(void **state)
{
	(void) state;
	rearm_idx = 4;
	tcp_wheel_arm(&w, 4, now + 2);
	advance_to(now + 2 + 5 * 3);
	assert_int_equal(el[4].fires, 4);
	assert_true(tcp_wheel_armed(&w, 4));
}

static void
test_wrap_of_ticks(void **state)
{
	(void) state;
	now = UINT32_MAX - 3;
	tcp_wheel_init(&w, slots, SLOTS, el, sizeof(el[0]), offsetof(struct elem, link), now);
	tcp_wheel_arm(&w, 0, now + 10); /* past the 32-bit wrap */
	advance_to(now + 9);
	assert_int_equal(el[0].fires, 0);
	advance_to(now + 1);
	assert_int_equal(el[0].fires, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fire_on_time, setup),
		cmocka_unit_test_setup(test_cancel_and_rearm, setup),
		cmocka_unit_test_setup(test_past_deadline, setup),
		cmocka_unit_test_setup(test_long_stall, setup),
		cmocka_unit_test_setup(test_rearm_in_callback, setup),
		cmocka_unit_test_setup(test_wrap_of_ticks, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
