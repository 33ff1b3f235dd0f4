/**
 * `ustack iperf3 server`: an iperf3 server on ustack that a stock `iperf3 -c` measures
 * against — TCP (`-P`, `-R`) and UDP (`-u -b`, `-R`). One test at a time; other clients wait
 * in the listen backlog. With `-1` it exits after one test, otherwise on SIGINT/SIGTERM
 * (exit 0 either way).
 *
 * @module
 */

import { formatIp, POLLIN, type Runtime, type TcpConn, type TcpServer, UdpPeer } from "../mod.ts";
import {
  ACCESS_DENIED,
  CLIENT_TERMINATE,
  COOKIE_SIZE,
  CREATE_STREAMS,
  DISPLAY_RESULTS,
  EXCHANGE_RESULTS,
  Iperf3Error,
  type Iperf3Params,
  IPERF_DONE,
  LEGACY_UDP_CONNECT_MSG,
  LEGACY_UDP_CONNECT_REPLY,
  PARAM_EXCHANGE,
  paramsFromJson,
  resultsJson,
  streamIds,
  TEST_END,
  TEST_RUNNING,
  TEST_START,
  UDP_CONNECT_REPLY,
} from "./iperf3_protocol.ts";
import { ControlChannel } from "./iperf3_protocol.ts";
import { Iperf3Report } from "./iperf3_report.ts";
import { summaryRows, TestSession } from "./iperf3_session.ts";
import { drainDatagrams, TcpDataStream, UdpDataStream } from "./iperf3_streams.ts";
import { onStopSignal } from "./meter.ts";
import { emit, emitError } from "./output.ts";

/** Options of the server. */
export interface Iperf3ServerOptions {
  /** Port for control, TCP data and UDP data [5201]. */
  port: number;
  /** Exit after one test. */
  oneOff: boolean;
  /** iperf3 -J output. */
  json: boolean;
}

/** How long the server waits for the client's streams. */
const STREAM_WAIT_MS = 10_000;
const BANNER = "-----------------------------------------------------------";

/** Resolve with `p`, or reject after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Iperf3Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Read exactly the cookie from a fresh data connection (nothing more: data follows it). */
async function readCookie(conn: TcpConn): Promise<Uint8Array> {
  const c = new Uint8Array(COOKIE_SIZE);
  let got = 0;
  while (got < COOKIE_SIZE) {
    const n = conn.readInto(c, got, COOKIE_SIZE - got);
    if (n > 0) got += n;
    else if (n === 0) throw new Iperf3Error("a stream closed before its cookie");
    else await conn.waitReadable();
  }
  return c;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Run the server until one test is done (`oneOff`) or a stop signal. */
export async function runIperf3Server(rt: Runtime, o: Iperf3ServerOptions): Promise<number> {
  const listener = rt.listen({ port: o.port });
  let stop = false;
  const signals = onStopSignal(() => {
    stop = true;
    listener.close();
  });
  try {
    for (let test = 1; !stop; test++) {
      if (!o.json) {
        emit(BANNER);
        emit(`Server listening on ${o.port} (test #${test})`);
        emit(BANNER);
      }
      let ctrl: TcpConn;
      try {
        ctrl = await listener.accept();
      } catch {
        break; // closed by a stop signal
      }
      try {
        await serveTest(rt, listener, ctrl, o);
      } catch (e) {
        emitError(`iperf3: error - ${(e as Error).message}`);
      } finally {
        ctrl.close();
      }
      if (o.oneOff) break;
    }
  } finally {
    signals.remove();
    listener.close();
  }
  return 0;
}

/** One test on control connection `conn`. */
async function serveTest(
  rt: Runtime,
  listener: TcpServer,
  conn: TcpConn,
  o: Iperf3ServerOptions,
): Promise<void> {
  const ctrl = new ControlChannel(conn);
  const cookie = await within(ctrl.readExact(COOKIE_SIZE), STREAM_WAIT_MS, "the cookie");
  await ctrl.writeState(PARAM_EXCHANGE);
  const params = paramsFromJson(await within(ctrl.readJson(), STREAM_WAIT_MS, "parameters"));
  const report = new Iperf3Report(o.json, params.protocol);
  const peer = conn.remoteAddr;
  report.text(`Accepted connection from ${peer.hostname}, port ${peer.port}`);
  report.start({
    accepted_connection: { host: peer.hostname, port: peer.port },
    cookie: new TextDecoder().decode(cookie.subarray(0, COOKIE_SIZE - 1)),
    test_start: {
      protocol: params.protocol.toUpperCase(),
      num_streams: params.parallel,
      blksize: params.len,
      omit: 0,
      duration: params.time,
      reverse: params.reverse ? 1 : 0,
    },
  });
  const session = new TestSession(report, params.reverse);
  // UDP streams on a dual-stack socket, as the TCP listener takes both families.
  const udp = params.protocol === "udp" ? rt.stack.udp.open(6) : null;
  try {
    if (udp !== null) udp.bind(null, o.port);
    await ctrl.writeState(CREATE_STREAMS);
    if (udp === null) await acceptTcpStreams(listener, cookie, params, session);
    else await acceptUdpStreams(udp, params, session);
    for (const s of session.streams) {
      const e = s.endpoints;
      report.connected(s.id, e.local || rt.primaryAddress, e.localPort, e.remote, e.remotePort);
    }
    await ctrl.writeState(TEST_START);
    await ctrl.writeState(TEST_RUNNING);
    session.start();
    const state = await ctrl.readState();
    session.stop();
    if (state !== TEST_END) {
      throw new Iperf3Error(
        state === CLIENT_TERMINATE ? "the client terminated the test" : `unexpected state ${state}`,
      );
    }
    // iperf3's server closes the data sockets on TEST_END, before EXCHANGE_RESULTS
    // (iperf_server_api.c): a client blocked reading the rest of a block (-R) sees the end of
    // the stream there; without it, it never reads the control connection again.
    const local = session.results();
    session.close();
    await ctrl.writeState(EXCHANGE_RESULTS);
    const remote = await ctrl.readJson();
    await ctrl.writeJson(resultsJson(params.reverse, local, session.cpu()));
    await ctrl.writeState(DISPLAY_RESULTS);
    const rows = summaryRows(local, remote.streams ?? [], params.reverse, udp !== null)
      .filter((r) => r.role === (params.reverse ? "sender" : "receiver"));
    report.summary(rows, params.reverse);
    report.end({ cpu_utilization_percent: { host_total: session.cpu().total } });
    report.flush();
    const done = await ctrl.readState().catch(() => IPERF_DONE);
    if (done !== IPERF_DONE) throw new Iperf3Error(`unexpected state ${done} at the end`);
  } finally {
    session.close();
    if (udp !== null) {
      udp.wq.listener = null;
      udp.close();
    }
  }
}

/** Accept the client's TCP streams; a connection with another cookie is turned away. */
async function acceptTcpStreams(
  listener: TcpServer,
  cookie: Uint8Array,
  params: Iperf3Params,
  session: TestSession,
): Promise<void> {
  const ids = streamIds(params.parallel);
  while (session.streams.length < ids.length) {
    const conn = await within(listener.accept(), STREAM_WAIT_MS, "the client's streams");
    const theirs = await within(readCookie(conn), STREAM_WAIT_MS, "a stream's cookie");
    if (!sameBytes(theirs, cookie)) {
      // Another client while a test runs: iperf3 answers "busy".
      await conn.write(new Uint8Array([ACCESS_DENIED & 0xff])).catch(() => {});
      conn.close();
      continue;
    }
    conn.setNoDelay(true);
    const id = ids[session.streams.length];
    session.streams.push(new TcpDataStream(conn, id, params.reverse, params.len));
  }
}

/**
 * Take the UDP "connect" datagram of each stream (answering it), then feed every datagram
 * of the test to the stream its source port belongs to.
 */
async function acceptUdpStreams(
  ep: ReturnType<Runtime["stack"]["udp"]["open"]>,
  params: Iperf3Params,
  session: TestSession,
): Promise<void> {
  ep.receiveBufferBytes = 8 << 20;
  const ids = streamIds(params.parallel);
  const buf = new Uint8Array(65536);
  const peer = new UdpPeer();
  const byPort = new Map<number, UdpDataStream>();
  const deadline = performance.now() + STREAM_WAIT_MS;
  while (byPort.size < ids.length) {
    let n = -1;
    try {
      n = ep.recvfrom(buf, 0, buf.length, peer);
    } catch { /* a reported socket error (cleared by reporting it) */ }
    if (n < 0) {
      if (performance.now() > deadline) throw new Iperf3Error("timed out waiting for UDP streams");
      await within(ep.wq.wait(POLLIN), STREAM_WAIT_MS, "the client's UDP streams");
      continue;
    }
    if (n !== 4 || byPort.has(peer.port)) continue;
    const legacy = sameBytes(buf.subarray(0, 4), LEGACY_UDP_CONNECT_MSG);
    ep.sendto(legacy ? LEGACY_UDP_CONNECT_REPLY : UDP_CONNECT_REPLY, 0, 4, peer.addr, peer.port);
    const s = new UdpDataStream(
      ep,
      false,
      { addr: peer.addr.freeze(), port: peer.port, text: formatIp(peer.addr) },
      ids[byPort.size],
      params.reverse,
      { len: params.len, bitsPerSecond: params.bandwidth, wide: params.udpCounters64 },
    );
    byPort.set(peer.port, s);
    session.streams.push(s);
  }
  // Every later datagram goes to its stream as it arrives, at the end of the tick.
  drainDatagrams(ep, (data, n, from) => {
    const s = byPort.get(from.port);
    if (s !== undefined && n > 4) s.receive(data, n, performance.now());
  });
}
