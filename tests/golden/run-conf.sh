#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Golden tests of the configuration grammar: for every conf/NAME.conf, the output and exit
# status of `ndrguard-control -n -f NAME.conf` must equal conf/NAME.ref (paths shown relative).
#   usage: run-conf.sh NDRGUARD_CONTROL [--update]
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/conf" || exit 1
fail=0 n=0
for conf in *.conf; do
    name=${conf%.conf}
    got=$("$bin" -n -f "$conf" 2>&1; echo "exit $?")
    if [ "${2:-}" = --update ]; then
        printf '%s\n' "$got" >"$name.ref"
        continue
    fi
    n=$((n + 1))
    if ! printf '%s\n' "$got" | diff -u "$name.ref" - >/dev/null; then
        echo "FAIL $name"
        printf '%s\n' "$got" | diff -u "$name.ref" -
        fail=1
    fi
done
[ "${2:-}" = --update ] && exit 0
echo "$n golden configuration cases, $( [ $fail = 0 ] && echo all pass || echo some FAIL)"
[ $n -gt 0 ] && exit $fail
exit 1
