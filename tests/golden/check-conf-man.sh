#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Every keyword the configuration scanner knows must be documented in ndrguard.conf(5), and
# every rule name the grammar accepts too: the manual is the admin's contract.
#   usage: check-conf-man.sh SCAN_L CONFIG_C MAN_PAGE
set -u
scan=$1 config=$2 man=$3
text=$(groff -man -Tascii -rLL=1000n -rHY=0 -P-c -P-b -P-u "$man" 2>/dev/null)
[ -n "$text" ] || { echo "cannot render $man"; exit 1; }
missing=0 n=0
for kw in $(sed -n 's/^\t{"\([a-z-]*\)", [A-Z_]*},$/\1/p' "$scan") \
    $(sed -n 's/^\t\[CONF_RULE_[A-Z_]*\] = "\([a-z-]*\)",$/\1/p' "$config"); do
    n=$((n + 1))
    printf '%s\n' "$text" | grep -qw -- "$kw" || { echo "not documented: $kw"; missing=1; }
done
[ $n -gt 30 ] || { echo "found only $n keywords: the extraction is broken"; exit 1; }
echo "$n keywords and rule names documented"
exit $missing
