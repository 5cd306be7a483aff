/* SPDX-License-Identifier: BSD-3-Clause */
/* ndrctl status: the appliance's systemd units (units.c). */
#ifndef NDRCTL_UNITS_H
#define NDRCTL_UNITS_H

#include <stdio.h>

/* Print one line per unit (state, since, last result, restarts), or one line saying systemd
 * is not running. Environment: NDRCTL_SYSTEMD_RUNDIR, NDRCTL_SYSTEMCTL (tests). */
void ndrctl_units_print(FILE *f);

#endif
