# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# A private OpenLDAP slapd for the directory-sync tests and the benchmark: its own slapd.conf
# in a temporary directory, mdb with the syncprov overlay (RFC 4533), the AD-like schema beside
# this file, listening on 127.0.0.1 and on an ldapi socket only. Read access for the reader
# account (simple bind) and for root over ldapi (SASL EXTERNAL); anonymous reads get nothing.
# Sourcing defines functions only.

SLAPD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# slapd_setup DIR: write the configuration. Sets SLAPD_DIR, SLAPD_PORT, SLAPD_URI, SLAPD_LDAPI,
# SLAPD_BASE, SLAPD_ADMIN_DN, SLAPD_ADMIN_PW, SLAPD_READER_DN, SLAPD_READER_PW.
slapd_setup() {
    SLAPD_DIR=$1
    SLAPD_BASE=dc=example,dc=com
    SLAPD_ADMIN_DN=cn=admin,$SLAPD_BASE
    SLAPD_ADMIN_PW=admin-$RANDOM$RANDOM
    SLAPD_READER_DN=cn=reader,$SLAPD_BASE
    SLAPD_READER_PW=reader-$RANDOM$RANDOM
    mkdir -p "$SLAPD_DIR/db"
    SLAPD_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT/
    SLAPD_LDAPI=ldapi://$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$SLAPD_DIR/ldapi")
    export SLAPD_DIR SLAPD_PORT SLAPD_URI SLAPD_LDAPI SLAPD_BASE SLAPD_ADMIN_DN SLAPD_ADMIN_PW \
        SLAPD_READER_DN SLAPD_READER_PW
    cat >"$SLAPD_DIR/slapd.conf" <<CONF
# private test slapd (tests/lab/ldap/slapd.sh)
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include $SLAPD_LIB_DIR/ad-like.schema
pidfile $SLAPD_DIR/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
sizelimit unlimited
timelimit unlimited
database mdb
suffix "$SLAPD_BASE"
rootdn "$SLAPD_ADMIN_DN"
rootpw $SLAPD_ADMIN_PW
directory $SLAPD_DIR/db
maxsize 8589934592
dbnosync
index objectClass eq
index entryUUID,entryCSN eq
index uid eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="$SLAPD_READER_DN" read
    by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" read
    by * none
limits dn.exact="$SLAPD_READER_DN" size=unlimited time=unlimited
overlay syncprov
syncprov-checkpoint 1000 5
syncprov-sessionlog 100000
CONF
}

# slapd_load N: N users (tests/lab/ldap/mkldif.py) loaded offline with slapadd -q.
slapd_load() {
    /usr/bin/python3 "$SLAPD_LIB_DIR/mkldif.py" "$1" example.com "$SLAPD_READER_PW" >"$SLAPD_DIR/fixtures.ldif" &&
        slapadd -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_DIR/fixtures.ldif" >"$SLAPD_DIR/slapadd.log" 2>&1 ||
        { sed 's/^/  | /' "$SLAPD_DIR/slapadd.log" >&2; return 1; }
    rm -f "$SLAPD_DIR/fixtures.ldif"
}

# slapd_start: start it and wait until it answers. Sets SLAPD_PID.
slapd_start() {
    slapd -f "$SLAPD_DIR/slapd.conf" -h "$SLAPD_URI $SLAPD_LDAPI" -d 0 >>"$SLAPD_DIR/slapd.log" 2>&1 &
    SLAPD_PID=$!
    export SLAPD_PID
    local t=0
    until ldapsearch -x -H "$SLAPD_URI" -D "$SLAPD_READER_DN" -w "$SLAPD_READER_PW" -b "$SLAPD_BASE" \
        -s base dn >/dev/null 2>&1; do
        if ! kill -0 "$SLAPD_PID" 2>/dev/null || [ $t -ge 100 ]; then
            echo "slapd did not start:" >&2
            sed 's/^/  | /' "$SLAPD_DIR/slapd.log" >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
}

# slapd_stop: SIGTERM, wait (it may take seconds after writes), then SIGKILL.
slapd_stop() {
    local pid=${SLAPD_PID:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SLAPD_PID=
}

# slapd_modify: ldapmodify as the rootdn, LDIF on stdin.
slapd_modify() {
    ldapmodify -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -w "$SLAPD_ADMIN_PW" "$@" >/dev/null
}
