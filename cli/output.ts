/**
 * Line-oriented output for the CLI: plain text or one JSON object per line, each written and
 * flushed at once (scripts wait for lines like `ready …`).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Write `line` plus a newline to stdout synchronously (so it is flushed when this returns). */
export function emit(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Write `line` plus a newline to stderr synchronously. */
export function emitError(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

/** Write an event as one JSON line. */
export function emitJson(event: string, fields: Record<string, unknown>): void {
  emit(JSON.stringify({ event, ...fields }));
}

/** Format counters as `layer: Name=1 Other=2` lines (non-zero only). */
export function formatStats(stats: Record<string, Record<string, number>>): string[] {
  const lines: string[] = [];
  for (const [layer, group] of Object.entries(stats)) {
    const parts = Object.entries(group).map(([k, v]) => `${k}=${v}`);
    if (parts.length > 0) lines.push(`  ${layer}: ${parts.join(" ")}`);
  }
  return lines;
}

/**
 * Print counters: the stack's groups, the driver's, and per-service groups (`services` in
 * JSON when there are any); the text form leaves out zeros.
 */
export function printCounterSet(
  stats: Record<string, Record<string, number>>,
  driver: Record<string, number>,
  services: Record<string, Record<string, number>>,
  json: boolean,
): void {
  if (json) {
    emitJson(
      "stats",
      Object.keys(services).length > 0 ? { ...stats, driver, services } : { ...stats, driver },
    );
    return;
  }
  emit("stats");
  const nonZero = (g: Record<string, number>) => {
    const nz: Record<string, number> = {};
    for (const [k, v] of Object.entries(g)) if (v !== 0) nz[k] = v;
    return nz;
  };
  const nz: Record<string, Record<string, number>> = {};
  for (const [layer, group] of Object.entries(stats)) {
    const g = nonZero(group);
    if (Object.keys(g).length > 0) nz[layer] = g;
  }
  for (const line of formatStats({ ...nz, driver: nonZero(driver), ...services })) emit(line);
}

/** A service's counter-group name on the control socket: `http/80` → `Http80`. */
export function serviceGroupName(name: string): string {
  return name.split(/[-/]/).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("");
}
