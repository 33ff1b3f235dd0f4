/**
 * `ustack iperf3 client HOST`: an iperf3 client on ustack that a stock `iperf3 -s` serves —
 * TCP (`-P`, `-R`) and UDP (`-u -b`, `-R`). Prints iperf3's interval lines and the
 * sender/receiver summary with the server's figures, or `-J`-shaped JSON; exit 0 when the
 * test completed.
 *
 * @module
 */

import { formatIp, IpAddress, POLLIN, type Runtime, type UdpEndpoint, UdpPeer } from "../mod.ts";
import {
  ACCESS_DENIED,
  ControlChannel,
  CREATE_STREAMS,
  DISPLAY_RESULTS,
  EXCHANGE_RESULTS,
  Iperf3Error,
  type Iperf3Params,
  IPERF_DONE,
  makeCookie,
  PARAM_EXCHANGE,
  paramsToJson,
  resultsJson,
  SERVER_ERROR,
  SERVER_TERMINATE,
  streamIds,
  TEST_END,
  TEST_RUNNING,
  TEST_START,
  UDP_CONNECT_MSG,
} from "./iperf3_protocol.ts";
import { Iperf3Report } from "./iperf3_report.ts";
import { summaryRows, TestSession } from "./iperf3_session.ts";
import { drainDatagrams, TcpDataStream, UdpDataStream } from "./iperf3_streams.ts";
import { onStopSignal, sleep } from "./meter.ts";
import { emitError } from "./output.ts";

/** Options of the client. */
export interface Iperf3ClientOptions extends Iperf3Params {
  /** Server address. */
  host: string;
  /** Server port. */
  port: number;
  /** iperf3 -J output. */
  json: boolean;
}

/** Tries of the UDP connect datagram, and the wait for each answer. */
const UDP_CONNECT_TRIES = 5;
const UDP_CONNECT_WAIT_MS = 1000;

/** Run one test against `o.host`; resolves to the exit status. */
export async function runIperf3Client(rt: Runtime, o: Iperf3ClientOptions): Promise<number> {
  const report = new Iperf3Report(o.json, o.protocol);
  report.text(`Connecting to host ${o.host}, port ${o.port}`);
  report.start({
    connecting_to: { host: o.host, port: o.port },
    version: "ustack iperf3 (protocol of iperf 3.12)",
    test_start: {
      protocol: o.protocol.toUpperCase(),
      num_streams: o.parallel,
      blksize: o.len,
      omit: 0,
      duration: o.time,
      reverse: o.reverse ? 1 : 0,
    },
  });
  const conn = await rt.connect({ hostname: o.host, port: o.port });
  conn.setNoDelay(true);
  const ctrl = new ControlChannel(conn);
  const cookie = makeCookie();
  report.start({ cookie: new TextDecoder().decode(cookie.subarray(0, cookie.length - 1)) });
  const session = new TestSession(report, !o.reverse);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let interrupted = false;
  const signals = onStopSignal(() => {
    interrupted = true;
    endTest();
  });
  let ended = false;
  function endTest(): void {
    if (ended || session.startMs === 0) return;
    ended = true;
    session.stop();
    void ctrl.writeState(TEST_END).catch(() => {});
  }
  try {
    await conn.write(cookie);
    for (;;) {
      const state = await ctrl.readState();
      switch (state) {
        case PARAM_EXCHANGE:
          await ctrl.writeJson(paramsToJson(o));
          break;
        case CREATE_STREAMS:
          await createStreams(rt, o, cookie, session);
          for (const s of session.streams) {
            const e = s.endpoints;
            report.connected(
              s.id,
              e.local || rt.primaryAddress,
              e.localPort,
              e.remote,
              e.remotePort,
            );
          }
          break;
        case TEST_START:
          break;
        case TEST_RUNNING:
          session.start();
          timer = setTimeout(endTest, o.time * 1000);
          break;
        case EXCHANGE_RESULTS: {
          const local = session.results();
          await ctrl.writeJson(resultsJson(!o.reverse, local, session.cpu()));
          const remote = await ctrl.readJson();
          report.summary(
            summaryRows(local, remote.streams ?? [], !o.reverse, o.protocol === "udp"),
            !o.reverse,
          );
          report.end({
            cpu_utilization_percent: {
              host_total: session.cpu().total,
              remote_total: remote.cpu_util_total ?? 0,
            },
          });
          break;
        }
        case DISPLAY_RESULTS:
          await ctrl.writeState(IPERF_DONE);
          report.text("");
          report.text("iperf Done.");
          report.flush();
          return interrupted ? 0 : 0;
        case ACCESS_DENIED:
          throw new Iperf3Error("the server is busy running a test. try again later");
        case SERVER_ERROR:
          throw new Iperf3Error("the server reported an error");
        case SERVER_TERMINATE:
          throw new Iperf3Error("the server has terminated");
        default:
          throw new Iperf3Error(`unexpected state ${state} from the server`);
      }
    }
  } catch (e) {
    emitError(`iperf3: error - ${(e as Error).message}`);
    return 1;
  } finally {
    clearTimeout(timer);
    signals.remove();
    session.close();
    conn.close();
  }
}

/** Open the test's streams: TCP connections that start with the cookie, or UDP "connects". */
async function createStreams(
  rt: Runtime,
  o: Iperf3ClientOptions,
  cookie: Uint8Array,
  session: TestSession,
): Promise<void> {
  const ids = streamIds(o.parallel);
  for (const id of ids) {
    if (o.protocol === "tcp") {
      const c = await rt.connect({ hostname: o.host, port: o.port });
      await c.write(cookie);
      session.streams.push(new TcpDataStream(c, id, !o.reverse, o.len));
      continue;
    }
    const addr = IpAddress.parse(o.host);
    const ep = rt.stack.udp.open(addr.family);
    ep.bind(null, 0);
    ep.receiveBufferBytes = 8 << 20;
    await udpConnect(ep, addr, o.port);
    const s = new UdpDataStream(
      ep,
      true,
      { addr, port: o.port, text: formatIp(addr) },
      id,
      !o.reverse,
      { len: o.len, bitsPerSecond: o.bandwidth, wide: false },
    );
    drainDatagrams(ep, (buf, n, peer) => {
      if (peer.port === o.port && n > 4) s.receive(buf, n, performance.now());
    });
    session.streams.push(s);
  }
}

/** Send the 4-byte connect datagram until the server answers with 4 bytes. */
async function udpConnect(ep: UdpEndpoint, addr: IpAddress, port: number): Promise<void> {
  const buf = new Uint8Array(64);
  const peer = new UdpPeer();
  for (let i = 0; i < UDP_CONNECT_TRIES; i++) {
    ep.sendto(UDP_CONNECT_MSG, 0, 4, addr, port);
    const deadline = performance.now() + UDP_CONNECT_WAIT_MS;
    while (performance.now() < deadline) {
      let n = -1;
      try {
        n = ep.recvfrom(buf, 0, buf.length, peer);
      } catch { /* an ICMP error reported: try again */ }
      if (n === 4 && peer.port === port) return;
      if (n < 0) await Promise.race([ep.wq.wait(POLLIN), sleep(20)]);
    }
  }
  throw new Iperf3Error("the server did not answer the UDP stream's connect datagram");
}
