/**
 * The kernel's io_uring SQ polling threads of this process (`--tx-kick uring`), by thread id.
 *
 * @module
 */

/** The ids of this process's threads named `iou-sqp-*` (the kernel's SQ polling threads). */
export function pollingThreads(): Set<string> {
  const ids = new Set<string>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      if (Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).startsWith("iou-sqp-")) {
        ids.add(t.name);
      }
    } catch { /* the thread ended */ }
  }
  return ids;
}
