/**
 * A client that opens connections in rounds, for the probes that serve a burst, let the stacks
 * go quiet and then look at what V8 kept (`idle_gc_probe.ts`, `idle_gc_http_probe.ts`).
 *
 * @module
 */

import type { WarmUpClient } from "../../stack/conn_warm_up.ts";

/**
 * Runs `rounds` rounds of `count` connections of `one` (indices `count - 1` down to 0), at most
 * `concurrency` open at once, a round after the last one's connections have all finished;
 * `onDone` sees each connection's outcome (`null` for success, else the error's text).
 */
export async function clientRounds(
  one: WarmUpClient,
  count: number,
  onDone: (error: string | null) => void = () => {},
  rounds = 3,
  concurrency = 16,
): Promise<void> {
  if (count <= 0) return;
  for (let round = 0; round < rounds; round++) {
    let left = count;
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const next = (): void => {
        while (inFlight < concurrency && left > 0) {
          left--;
          inFlight++;
          one(left, (error) => {
            onDone(error);
            inFlight--;
            if (left === 0 && inFlight === 0) resolve();
            else next();
          });
        }
      };
      next();
    });
  }
}
