/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrctl's commands that do more than one request to ndrguard-control: the open-relay test
 * (relay_test.c, talks SMTP to any server), the live view (top.c) and the request helper
 * they share with ndrctl.c. Single-threaded.
 */
#ifndef NDG_CONTROL_NDRCTL_H
#define NDG_CONTROL_NDRCTL_H

#include <stdbool.h>
#include <stdio.h>

/**
 * Send one command (<argc> words of <argv>) to ndrguard-control at <sock> and write the
 * answer's text to <out>. With <follow>, keep reading the records that follow until the
 * daemon closes the connection (log tail --follow).
 * @return the command's exit status, or 3 when the daemon cannot be reached.
 */
int ndrctl_call(const char *sock, int argc, char **argv, FILE *out, bool follow);

/**
 * `relay-test HOST [--port N] [--domain D] [--helo NAME] [--timeout S]`: the classic
 * open-relay test against any SMTP server. Never sends DATA.
 * @return 0 closed, 1 open (some case relayed), 2 usage or the test could not run.
 */
int ndrctl_relay_test(int argc, char **argv, bool json);

/** `top [-n SECONDS]`: the live view, refreshed each second until `q`. @return 0, or 3. */
int ndrctl_top(const char *sock, int argc, char **argv);

#endif /* NDG_CONTROL_NDRCTL_H */
