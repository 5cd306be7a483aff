#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The DPDK engine of the load generator (ndrguard-bench-dpdk) against the appliance over
# net_memif, short and bounded (2 s of load per kind; figures printed, never judged): the
# engine as client on the dataplane's external memif and as the backend sink on its internal
# one. Attack sessions: every reply as expected (220 250 250 550 221), no errors, and the
# dataplane's unknown-user rejects equal the sessions done; legit 1 KiB messages: every one
# the appliance accepted arrives intact at the DPDK sink; then the same over STARTTLS
# (tls-handshake, tls-legit: one full TLS 1.3 handshake per session, the engine's OpenSSL client
# over memory BIOs). Ends by checking the lab left nothing behind.
# variants: memif
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
BD=${NDG_BUILD_DIR:-$LAB_TOP/build}/bench/ndrguard-bench-dpdk
EAL="--no-huge --no-shconf -m 512 --no-pci --log-level=lib.eal:warning"

jget() {
    "$LAB_PY" -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}
check() { # check DESCRIPTION PYTHON-CONDITION FILE
    if [ "$(jget "$3" "$2")" = True ]; then echo "ok   $1"; else echo "FAIL $1 ($2)"; rc=1; fi
}
stat_of() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

body() {
    [ -x "$BD" ] || fail "no ndrguard-bench-dpdk at $BD"
    lab_up "$LAB_ID_WANTED"
    lab_dataplane_start memif --app smtp --mbufs 65535 --tcp-max-per-src 0 || fail "dataplane did not start"
    local dstats=$LAB_RUN_DIR/dsink.stats out=$LAB_RUN_DIR/bd.out
    # shellcheck disable=SC2086
    "$BD" -l 0 $EAL --file-prefix "${LAB_ID}s" \
        --vdev="net_memif0,role=client,id=0,socket=$LAB_RUN_DIR/memif1.sock,socket-abstract=no" \
        -- --addr "$BACKEND_IP/24" --sink 2526 --stats "$dstats" >"$LAB_RUN_DIR/dsink.log" 2>&1 &
    DSINK_PID=$!
    for _ in $(seq 100); do [ -s "$dstats" ] && break; sleep 0.1; done
    [ -s "$dstats" ] || fail "DPDK sink did not start: $(tail -n 3 "$LAB_RUN_DIR/dsink.log")"
    lab_control_config
    sed -i "s/ port 25\$/ port 2526/" "$CONTROL_CONF"
    sed -i 's/connections-per-ip .*/connections-per-ip 1000000/' "$CONTROL_CONF"
    sed -i 's/^harvest budget .*/harvest budget 1000000 per 1s/' "$CONTROL_CONF"
    # STARTTLS with the lab's certificates; the handshake limits out of the engine's way.
    lab_tls_certs || fail "lab_tls_certs"
    printf 'tls %s 1000000\n' source-rate source-burst handshake-rate handshake-burst >>"$CONTROL_CONF"
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    rc=0
    local kind ok0
    for kind in attack legit tls-handshake tls-legit; do
        ok0=$(stat_of messages_ok "$dstats")
        echo "--- $kind, 2 s, 64 concurrent, over memif"
        # shellcheck disable=SC2086
        timeout 60 "$BD" -l 0 $EAL --file-prefix "${LAB_ID}c" \
            --vdev="net_memif0,role=client,id=0,socket=$LAB_RUN_DIR/memif0.sock,socket-abstract=no" \
            -- --addr "$CLIENT_IP/24" --server "$APPLIANCE_IP:25" --kind $kind \
            --concurrency 64 --duration 2 --server-pid "$DATAPLANE_PID" >"$out" 2>"$out.err"
        sed 's/^/    /' "$out" | head -n 1
        [ -s "$out" ] || fail "no output from ndrguard-bench-dpdk: $(tail -n 3 "$out.err")"
        check "$kind: sessions done, zero mismatches, zero errors" \
            "j['sessions'] > 0 and j['ok_sessions'] == j['sessions'] and j['mismatches'] == 0 and j['errors'] == 0" "$out"
        case $kind in tls-*)
            sed 's/^/    stderr: /' "$out.err" | grep -v 'TELEMETRY\|mp action\|port: port' | head -n 5
            check "$kind: one full TLS 1.3 handshake per session, none failed" \
                "j['tls_handshakes'] == j['sessions'] and j['tls_failures'] == 0 and j['tls'].startswith('TLSv1.3 ')" "$out"
            ;;
        esac
        if [ $kind = tls-handshake ]; then
            :
        elif [ $kind = attack ]; then
            local unknown
            unknown=$($NDRCTL stats | awk '$1 == "policy_unknown_user_reject" {print $2}')
            check "dataplane unknown-user rejects (${unknown:-none}) = attack sessions" \
                "j['sessions'] == int('${unknown:--1}')" "$out"
        else
            sleep 0.5
            local ok bad
            ok=$(stat_of messages_ok "$dstats") bad=$(stat_of messages_corrupt "$dstats")
            check "every accepted message intact at the DPDK sink ($((${ok:-0} - ${ok0:-0})) more ok, ${bad:-none} corrupt)" \
                "j['messages'] == j['legit_accepted'] == int('${ok:--1}') - int('${ok0:-0}') > 0 and int('${bad:--1}') == 0" "$out"
        fi
    done
    kill -TERM "$DSINK_PID" 2>/dev/null
    wait "$DSINK_PID" 2>/dev/null
    return $rc
}

LAB_ID_WANTED=bm$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
