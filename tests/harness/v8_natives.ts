/**
 * V8's `%` functions for the probes that `runNativesProbe` (`natives_probe.ts`) runs in a child
 * `deno` with `--allow-natives-syntax`. Made through `new Function` (the TypeScript parser does
 * not take `%`), so this module loads only in such a process: import it from a probe, never
 * from a test.
 *
 * @module
 */

/** Any function a native takes. */
export type Fn = (...args: never[]) => unknown;

/** A native call `body` over `params`, as a function. */
export const natives = (body: string, ...params: string[]): (...a: unknown[]) => unknown =>
  new Function(...params, body) as (...a: unknown[]) => unknown;

/** `%PrepareFunctionForOptimization(f)`: keep `f`'s feedback for an optimisation asked later. */
export const prepare = natives("%PrepareFunctionForOptimization(f)", "f");
/** `%OptimizeFunctionOnNextCall(f)`: TurboFan at `f`'s next call. */
export const optimizeNext = natives("%OptimizeFunctionOnNextCall(f)", "f");
/** `%OptimizeMaglevOnNextCall(f)`: Maglev at `f`'s next call. */
export const optimizeMaglevNext = natives("%OptimizeMaglevOnNextCall(f)", "f");
/** `%NeverOptimizeFunction(f)`. */
export const neverOptimize = natives("%NeverOptimizeFunction(f)", "f");
/** `%GetOptimizationStatus(f)`: V8's OptimizationStatus bits. */
export const optimizationStatus = natives("return %GetOptimizationStatus(f)", "f");

/** V8's (12.x–14.x) OptimizationStatus bits for optimised code: Maglev (16), TurboFan (32). */
export const OPTIMIZED_BITS = 16 | 32;

/** True while `f` runs optimised code (Maglev or TurboFan). */
export function isOptimized(f: Fn): boolean {
  return ((optimizationStatus(f) as number) & OPTIMIZED_BITS) !== 0;
}
