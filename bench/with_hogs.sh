#!/bin/sh
# bench/with_hogs.sh N NICE COMMAND [ARGS...]: run COMMAND beside N CPU-bound busy loops
# (`sh -c 'while :; do :; done'`) at nice level NICE (e.g. 2 at 19: one per vCPU, the niced
# test runs of other sessions on a shared machine). The loops start before COMMAND and are
# killed when this script ends, however it ends (EXIT, INT, TERM, HUP traps), so a controlled
# load never outlives the measurement it was started for (run the whole line under the
# measurement lock). Exits with COMMAND's status.
set -u
n=$1
lvl=$2
shift 2
pids=""
stop_hogs() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  pids=""
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM HUP
i=0
while [ "$i" -lt "$n" ]; do
  nice -n "$lvl" sh -c 'while :; do :; done' &
  pids="$pids $!"
  i=$((i + 1))
done
"$@"
rc=$?
stop_hogs
exit "$rc"
