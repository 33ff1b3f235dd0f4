/**
 * Run by `tests/unit/idle_gc_maps_test.ts` in a child `deno run --v8-flags=--allow-natives-syntax,
 * --expose-gc`: what the memory-reducing full GCs after a quiet spell throw away of an HTTP
 * server's request path and of the event loop's turns. The `serve --http` kind of warm-up on the
 * simulated wire, then "the real stacks" — a pair on the af_packet driver's rings in memory —
 * serve connection-per-request HTTP/1.0 requests until every connection has closed; then both
 * stacks stop (their loops sleep: no `Immediate` is pending, no HTTP connection is open), as a
 * server between bursts; V8's last-resort GC (`gc({flavor: "last-resort"})`: memory-reducing
 * full GCs that retain no maps, as the memory reducer's) runs twice, and the probe prints, as
 * one JSON line, which watched functions were optimised before it and which were not after.
 *
 * @module
 */

import {
  requestClient,
  WARM_UP_SERVER_ADDR,
  warmUpConnections,
  withWarmUpPair,
} from "../../stack/conn_warm_up.ts";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { startWarmUpHttp } from "../../cli/tcp_services.ts";
import { ConnReader } from "../../stack/http/conn_io.ts";
import { HttpConnection } from "../../stack/http/http_connection.ts";
import { parseRequestHead } from "../../stack/http/head_parser.ts";
import { ResponseWriter } from "../../stack/http/response_writer.ts";
import { Exchanges } from "../../stack/http/exchange.ts";
import { TcpConn } from "../../stack/tcp_conn.ts";
import { httpConnectionHeldForMaps } from "../../stack/http/server.ts";
import { type Fn, isOptimized } from "./v8_natives.ts";
import { DenoTurn } from "../../stack/deno_turn.ts";
import { clientRounds } from "./client_rounds.ts";

const gc = (globalThis as unknown as { gc(o?: object): void }).gc;
const connections = Number(Deno.args[0] ?? 3000);

/** The functions the check watches, by name. */
const WATCHED: Record<string, Fn> = {
  "ConnReader.tryFill": ConnReader.prototype.tryFill as Fn,
  "ConnReader.consume": ConnReader.prototype.consume as Fn,
  "HttpConnection.setPhase": HttpConnection.prototype.setPhase as Fn,
  "parseRequestHead": parseRequestHead as Fn,
  "ResponseWriter.writeRaw": ResponseWriter.prototype.writeRaw as Fn,
  "Exchanges.answerRaw": Exchanges.prototype.answerRaw as Fn,
  "TcpConn.setNoDelay": TcpConn.prototype.setNoDelay as Fn,
  "TcpConn.close": TcpConn.prototype.close as Fn,
  // The loop's turns of Deno's event loop: compiled against the immediate records' map.
  "DenoTurn.request": DenoTurn.prototype.request as Fn,
};

const REQUEST = new TextEncoder().encode("GET /bytes/64 HTTP/1.0\r\nHost: probe\r\n\r\n");
const client = requestClient(REQUEST, null);

await warmUpConnections({ serve: startWarmUpHttp, client, connections, wire: "sim" });

const out = {
  before: [] as string[],
  lost: [] as string[],
  served: 0,
  // The warm-up's server has finished: its last connection (and with it the warm-up's stopped
  // stack) is let go.
  heldAfterWarmUp: httpConnectionHeldForMaps() !== null,
  heldWhileServing: false,
};
await withWarmUpPair(
  AfPacketRingDriver.memoryPair(),
  // Loops that park at once when idle (a JavaScript timer: no `Immediate` pending).
  { stack: { maxConnections: 64 }, loop: { busyPollUs: 0 } },
  startWarmUpHttp,
  80,
  async ({ client: rt }) => {
    const one = client(rt, WARM_UP_SERVER_ADDR, 80);
    await clientRounds(one, connections, (error) => {
      if (error === null) out.served++;
    });
    // The last connections close; both loops park, as a server's between bursts.
    await new Promise((r) => setTimeout(r, 300));
    out.heldWhileServing = httpConnectionHeldForMaps() !== null;
    for (const [name, f] of Object.entries(WATCHED)) if (isOptimized(f)) out.before.push(name);
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    for (const name of out.before) if (!isOptimized(WATCHED[name])) out.lost.push(name);
  },
);
console.log(JSON.stringify(out));
