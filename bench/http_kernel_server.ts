/**
 * The kernel-sockets side of the HTTP benchmark: `Deno.serve` with the very handler
 * `ustack serve --http` runs (`cli/http_routes.ts`), so both servers do the same work.
 *
 * ```
 * deno run --allow-net bench/http_kernel_server.ts HOST PORT   # prints "ready" when listening
 * ```
 *
 * @module
 */

import { httpRoutes } from "../cli/http_routes.ts";

if (import.meta.main) {
  const [hostname = "0.0.0.0", port = "80"] = Deno.args;
  const server = Deno.serve({
    hostname,
    port: Number(port),
    onListen: () => console.log("ready"),
  }, httpRoutes);
  const stop = () => server.shutdown();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await server.finished;
}
