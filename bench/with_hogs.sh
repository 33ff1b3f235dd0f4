#!/bin/sh
# bench/with_hogs.sh [-s] N NICE COMMAND [ARGS...]: run COMMAND beside N CPU-bound busy loops
# (`sh -c 'while :; do :; done'`) at nice level NICE (e.g. 2 at 19: one per vCPU). With -s each
# loop runs in a session of its own (`setsid`), as the niced test runs of other sessions on a
# shared machine do: with autogroups (`/proc/sys/kernel/sched_autogroup_enabled` = 1) the
# scheduler first shares a CPU between sessions' groups alike and applies nice only inside a
# group, so a niced loop of another session weighs like an unniced one against this session's
# processes; without -s the loops share COMMAND's session and nice applies.
# The loops start before COMMAND and are killed when this script ends, however it ends (EXIT,
# INT, TERM, HUP traps; a parent-death signal when the script itself is killed), so a controlled
# load never outlives the measurement it was started for (run the whole line under the
# measurement lock). Exits with COMMAND's status (130 when stopped by a signal).
set -u
own=""
if [ "$1" = "-s" ]; then
  own="setsid"
  shift
fi
n=$1
lvl=$2
shift 2
pids=""
stop_hogs() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  pids=""
}
cmd=""
trap stop_hogs EXIT
# COMMAND runs in the background and the script waits for it, so a TERM, INT or HUP is handled
# at once (a shell runs traps only between foreground commands), passed on to COMMAND as TERM.
trap 'stop_hogs; [ -n "$cmd" ] && kill "$cmd" 2>/dev/null; exit 130' INT TERM HUP
i=0
while [ "$i" -lt "$n" ]; do
  # setsid execs (no fork: a background child leads no process group), so $! is the loop.
  # Each loop dies with this script even when it is killed outright (SIGKILL runs no trap):
  # setpriv gives it a parent-death signal.
  $own nice -n "$lvl" setpriv --pdeathsig KILL sh -c 'while :; do :; done' &
  pids="$pids $!"
  i=$((i + 1))
done
"$@" &
cmd=$!
wait "$cmd"
rc=$?
cmd=""
stop_hogs
exit "$rc"
