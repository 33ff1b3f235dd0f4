/**
 * Waiting on a condition in unit tests that must not throw on a timeout (the caller asserts).
 *
 * @module
 */

/** Poll `cond` (turning the event loop) until true or `ms` pass; false on a timeout. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}
