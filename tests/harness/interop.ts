/**
 * `interopTest`: `Deno.test` for kernel-interop tests, which need root and real tools.
 *
 * When a requirement is missing the test is *ignored* on a developer machine, but in CI
 * (`CI=true`) it is registered as a *failing* test that names what is missing: CI never skips.
 *
 * @module
 */

/** Options of {@link interopTest}. */
export interface InteropTestOptions {
  /** Commands the test runs (`ping`, `socat`, `tshark`, `curl`, `nft`, …); `ip` is implied. */
  tools?: string[];
}

/** Capabilities an interop test needs: NET_ADMIN (veth, netns), NET_RAW, SYS_ADMIN (setns). */
const REQUIRED_CAPS: ReadonlyArray<readonly [string, number]> = [
  ["CAP_NET_ADMIN", 12],
  ["CAP_NET_RAW", 13],
  ["CAP_SYS_ADMIN", 21],
];

/** Directories searched for tools besides `$PATH` (root tools live in sbin). */
const EXTRA_TOOL_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin"];

/**
 * True when running under CI (`CI=true`).
 *
 * @example
 * ```ts
 * if (isCI()) console.log("strict mode");
 * ```
 */
export function isCI(): boolean {
  return Deno.env.get("CI") === "true";
}

/**
 * True if `name` is an executable file in `$PATH` or an sbin directory.
 *
 * @example
 * ```ts
 * hasTool("tshark");
 * ```
 */
export function hasTool(name: string): boolean {
  const dirs = [
    ...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== ""),
    ...EXTRA_TOOL_DIRS,
  ];
  for (const dir of dirs) {
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch { /* not in this directory */ }
  }
  return false;
}

/**
 * The capabilities from {@link REQUIRED_CAPS} this process lacks (from `CapEff` in
 * /proc/self/status; when that cannot be read, being root counts as having all of them).
 *
 * @example
 * ```ts
 * missingCapabilities(); // [] when root
 * ```
 */
export function missingCapabilities(): string[] {
  let effective: bigint;
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (hex === undefined) throw new Error("no CapEff");
    effective = BigInt(`0x${hex}`);
  } catch {
    return Deno.uid() === 0 ? [] : REQUIRED_CAPS.map(([name]) => name);
  }
  return REQUIRED_CAPS.filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
}

/**
 * Everything the test cannot have: missing capabilities (as "root (…)") and missing tools.
 *
 * @example
 * ```ts
 * missingRequirements(["ping"]); // [] on a prepared machine
 * ```
 */
export function missingRequirements(tools: string[] = []): string[] {
  const missing: string[] = [];
  const caps = missingCapabilities();
  if (caps.length > 0) missing.push(`root (${caps.join(", ")})`);
  for (const tool of new Set(["ip", ...tools])) {
    if (!hasTool(tool)) missing.push(tool);
  }
  return missing;
}

/**
 * Register a kernel-interop test. Sanitizers for ops and resources are off: these tests start
 * child processes and namespaces whose lifetimes do not line up with a test's.
 *
 * @example
 * ```ts
 * interopTest("ping answers", async () => {
 *   await withVethPair({}, async (pair) => { ... });
 * }, { tools: ["ping"] });
 * ```
 */
export function interopTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  opts: InteropTestOptions = {},
): void {
  const missing = missingRequirements(opts.tools ?? []);
  const base = { sanitizeOps: false, sanitizeResources: false };
  if (missing.length === 0) {
    Deno.test({ ...base, name, fn });
  } else if (isCI()) {
    Deno.test({
      ...base,
      name,
      fn(): void {
        throw new Error(
          `interop test "${name}" cannot run: missing ${missing.join(", ")} ` +
            "(CI=true: interop tests fail instead of being skipped)",
        );
      },
    });
  } else {
    Deno.test({ ...base, name: `${name} [needs ${missing.join(", ")}]`, ignore: true, fn });
  }
}

/**
 * Poll `probe` every `intervalMs` until it returns a truthy value (returned) or `timeoutMs`
 * passes (throws naming `what`).
 *
 * @example
 * ```ts
 * const frame = await waitFor(() => findArp(driver), { what: "an ARP request" });
 * ```
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<NonNullable<T>> {
  const deadline = performance.now() + (opts.timeoutMs ?? 5_000);
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (performance.now() >= deadline) {
      throw new Error(`timed out after ${opts.timeoutMs ?? 5_000} ms waiting for ${opts.what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 10));
  }
}
