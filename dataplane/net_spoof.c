/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ingress anti-spoofing tables (BCP 38, RFC 2827; DESIGN.md §3 "Hostile peers"): which port
 * is external, internal or one-armed, and which sources each refuses. Built and published by
 * main before launch and by the control thread at each configuration (dp_ctl.c); read by the
 * worker lcores through net_spoof_get()/net_spoof_refuses() (net.h) under urcu-qsbr.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <urcu/urcu-qsbr.h>

#include "net.h"

struct net_spoof *net_spoof_cur;

static const struct net_if *net_spoof_ifs;
static uint16_t net_spoof_n_ports;

static const char *const net_role_names[NET_ROLE_MAX] = {
	[NET_ROLE_NONE] = "none",
	[NET_ROLE_EXTERNAL] = "external",
	[NET_ROLE_INTERNAL] = "internal",
	[NET_ROLE_ONE_ARMED] = "one-armed",
};

const char *
net_role_name(enum net_port_role r)
{
	return (unsigned int) r < NET_ROLE_MAX ? net_role_names[r] : "?";
}

static uint32_t
net_spoof_mask(uint8_t plen)
{
	return plen ? rte_cpu_to_be_32(~0u << (32 - plen)) : 0;
}

/* Do prefixes <a> and <b> share an address? */
static bool
net_pfx_overlap(const struct net_pfx *a, const struct net_pfx *b)
{
	uint32_t m = a->mask & b->mask; /* the shorter prefix's mask */

	return ((a->net ^ b->net) & m) == 0;
}

static bool
net_if_overlaps(const struct net_if *nif, const struct net_pfx *p)
{
	for (unsigned int i = 0; i < nif->n_addrs; i++) {
		struct net_pfx sub = {.mask = net_spoof_mask(nif->addrs[i].plen)};

		sub.net = nif->addrs[i].ip & sub.mask;
		if (net_pfx_overlap(&sub, p))
			return true;
	}
	return false;
}

static int
net_range_cmp(const void *a, const void *b)
{
	const struct net_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static struct net_range
net_pfx_range(const struct net_pfx *p)
{
	uint32_t m = rte_be_to_cpu_32(p->mask);
	uint32_t lo = rte_be_to_cpu_32(p->net) & m;

	return (struct net_range){.lo = lo, .hi = lo | ~m};
}

struct net_spoof *
net_spoof_build(const struct net_if *nifs, uint16_t n_ports, const struct net_pfx *anchors,
	unsigned int n_anchors, const struct net_pfx *inside, unsigned int n_inside,
	unsigned int *overlap)
{
	bool internal[RTE_MAX_ETHPORTS] = {false}, external[RTE_MAX_ETHPORTS] = {false};
	unsigned int n_addressed = 0, n_ranges = n_inside, n_bad = 0;
	int gw_port = -1;
	struct net_spoof *sp;

	if (n_ports > RTE_MAX_ETHPORTS)
		n_ports = RTE_MAX_ETHPORTS;
	for (uint16_t p = 0; p < n_ports; p++) {
		if (nifs[p].n_addrs == 0)
			continue;
		n_addressed++;
		n_ranges += nifs[p].n_addrs;
		if (gw_port < 0 && nifs[p].gateway != 0)
			gw_port = p;
	}
	sp = calloc(1, sizeof(*sp) + (size_t) n_ranges * sizeof(sp->inside[0]));
	if (sp == NULL)
		return NULL;
	for (uint16_t p = 0; p < n_ports; p++)
		for (unsigned int i = 0; i < nifs[p].n_addrs && sp->n_own < NET_SPOOF_OWN_MAX; i++)
			sp->own[sp->n_own++] = nifs[p].addrs[i].ip;

	/* Roles: where the proxy would send to the anchors (proxy_port_for_ctx(): a connected
	 * subnet, else the gateway's port) is the inside. */
	for (unsigned int a = 0; a < n_anchors; a++) {
		bool found = false;

		for (uint16_t p = 0; p < n_ports; p++) {
			if (nifs[p].n_addrs != 0 && net_if_overlaps(&nifs[p], &anchors[a])) {
				internal[p] = true;
				found = true;
			}
		}
		if (!found && gw_port >= 0)
			internal[gw_port] = true;
	}
	for (uint16_t p = 0; p < n_ports; p++) {
		if (nifs[p].n_addrs == 0)
			continue;
		external[p] = !internal[p] || nifs[p].gateway != 0 || n_addressed == 1;
		if (n_addressed == 1)
			internal[p] = true;
		sp->role[p] = internal[p] && external[p] ? NET_ROLE_ONE_ARMED
			      : internal[p]		 ? NET_ROLE_INTERNAL
							 : NET_ROLE_EXTERNAL;
	}

	/* Inside ranges: the configured prefixes and the subnets of internal ports. */
	for (unsigned int i = 0; i < n_inside; i++) {
		sp->inside[sp->n_inside++] = net_pfx_range(&inside[i]);
		for (uint16_t p = 0; p < n_ports; p++)
			if (sp->role[p] == NET_ROLE_EXTERNAL &&
				net_if_overlaps(&nifs[p], &inside[i])) {
				n_bad++;
				break;
			}
	}
	for (uint16_t p = 0; p < n_ports; p++) {
		if (sp->role[p] != NET_ROLE_INTERNAL)
			continue;
		for (unsigned int i = 0; i < nifs[p].n_addrs; i++) {
			struct net_pfx sub = {.mask = net_spoof_mask(nifs[p].addrs[i].plen)};

			sub.net = nifs[p].addrs[i].ip & sub.mask;
			sp->inside[sp->n_inside++] = net_pfx_range(&sub);
		}
	}
	/* Sorted and merged: disjoint ranges for the binary search of net_spoof_refuses(). */
	if (sp->n_inside > 1) {
		uint32_t w = 0;

		qsort(sp->inside, sp->n_inside, sizeof(sp->inside[0]), net_range_cmp);
		for (uint32_t r = 1; r < sp->n_inside; r++) {
			struct net_range *last = &sp->inside[w];

			if (sp->inside[r].lo <= last->hi ||
				(last->hi != UINT32_MAX && sp->inside[r].lo == last->hi + 1)) {
				if (sp->inside[r].hi > last->hi)
					last->hi = sp->inside[r].hi;
			} else {
				sp->inside[++w] = sp->inside[r];
			}
		}
		sp->n_inside = w + 1;
	}
	if (overlap != NULL)
		*overlap = n_bad;
	return sp;
}

static void
net_spoof_free_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct net_spoof, rcu));
}

void
net_spoof_publish(struct net_spoof *sp)
{
	struct net_spoof *old = rcu_xchg_pointer(&net_spoof_cur, sp);

	if (old != NULL)
		urcu_qsbr_call_rcu(&old->rcu, net_spoof_free_rcu);
}

int
net_spoof_init(const struct net_if *nifs, uint16_t n_ports)
{
	struct net_spoof *sp = net_spoof_build(nifs, n_ports, NULL, 0, NULL, 0, NULL);

	if (sp == NULL)
		return -ENOMEM;
	/* No configuration yet: nothing says which side is inside. */
	memset(sp->role, NET_ROLE_NONE, sizeof(sp->role));
	sp->n_inside = 0;
	net_spoof_ifs = nifs;
	net_spoof_n_ports = n_ports;
	net_spoof_publish(sp);
	return 0;
}

int
net_spoof_update(const struct net_pfx *anchors, unsigned int n_anchors,
	const struct net_pfx *inside, unsigned int n_inside, unsigned int *overlap)
{
	struct net_spoof *sp;

	if (net_spoof_ifs == NULL)
		return 0;
	sp = net_spoof_build(net_spoof_ifs, net_spoof_n_ports, anchors, n_anchors, inside, n_inside,
		overlap);
	if (sp == NULL)
		return -ENOMEM;
	net_spoof_publish(sp);
	return 0;
}
