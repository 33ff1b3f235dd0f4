/**
 * The last line of namespace cleanup: a small `sh` child of the test process that knows every
 * namespace the process made and has not deleted yet, and deletes them (killing what still runs
 * inside) once the test process is gone — however it went: a failed test, `unload`, SIGINT, but
 * also SIGTERM (`timeout`), SIGKILL or a crash, where no JavaScript runs any more. It learns of
 * namespaces through its stdin (`add NAME` / `del NAME`) and acts on end of file, which the
 * kernel delivers when the test process's end of the pipe closes. It ignores SIGINT, SIGTERM and
 * SIGHUP (Ctrl-C reaches the whole process group) so that it outlives the process it guards, and
 * touches only the names it was told.
 *
 * @module
 */

/** What the watchdog runs: collect names, then clean up at end of input. */
const WATCHDOG_SH = `
trap '' INT TERM HUP
names=" "
while IFS=' ' read -r op n; do
  case "$op" in
    add) names="$names$n " ;;
    del) names=$(printf '%s' "$names" | sed "s/ $n / /") ;;
  esac
done
for n in $names; do
  for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$n" 2>/dev/null
done
`;

/** Namespace names the harness makes: letters, digits and dashes only. */
const NAME = /^[a-z0-9-]+$/;

let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
const encoder = new TextEncoder();

/** The watchdog's stdin, starting it on first use (unref'd: it never keeps the process alive). */
function watchdog(): WritableStreamDefaultWriter<Uint8Array> {
  if (writer === null) {
    const child = new Deno.Command("sh", {
      args: ["-c", WATCHDOG_SH],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    writer = child.stdin.getWriter();
  }
  return writer;
}

/**
 * Tell the watchdog about namespace `ns` before it is made (`ip netns add`), so that a process
 * that dies at any point after leaves nothing behind.
 *
 * @example
 * ```ts
 * await claimNamespace("ustk-123-1-s");
 * ```
 */
export async function claimNamespace(ns: string): Promise<void> {
  if (!NAME.test(ns)) throw new RangeError(`claimNamespace: bad namespace name "${ns}"`);
  await watchdog().write(encoder.encode(`add ${ns}\n`));
}

/**
 * Tell the watchdog that `ns` was deleted (best effort: if the process ends before this line
 * is read, the watchdog's own delete finds nothing to do).
 *
 * @example
 * ```ts
 * releaseNamespace("ustk-123-1-s");
 * ```
 */
export function releaseNamespace(ns: string): void {
  if (writer === null || !NAME.test(ns)) return;
  writer.write(encoder.encode(`del ${ns}\n`)).catch(() => {/* watchdog gone: nothing to tell */});
}
