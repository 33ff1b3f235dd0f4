/**
 * What holds a sender back (`send_limit.ts`, `TcpSender.sendLimitNow`, TCP_INFO's `sendLimit`),
 * judged from the state the next output pass would find.
 */

import assert from "node:assert/strict";
import { ackOf, establishedSender, RIG_MSS } from "../harness/sender_rig.ts";
import {
  LIMIT_APP,
  LIMIT_CWND,
  LIMIT_DUE,
  LIMIT_IDLE,
  LIMIT_PACING,
  LIMIT_RWND,
  LIMIT_SNDBUF,
} from "../../transport/tcp/send_limit.ts";
import { TcpState } from "../../transport/tcp/state.ts";

const MSS = RIG_MSS;
const ack = ackOf;

/** An established NewReno sender (ISS 1000), the peer's window `window` << 7 bytes. */
function sender(pacing = false, window = 65535) {
  return establishedSender({ pacing, window });
}

Deno.test("send limit: a sender is cwnd-limited, then waits for its writer (app), then idle", () => {
  const { snd, clock } = sender();
  assert.equal(snd.sendLimitNow(), LIMIT_IDLE, "nothing written");
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(100 * MSS), 0, 100 * MSS);
  assert.equal(snd.sendLimitNow(), LIMIT_DUE, "data and room: a pass is due");
  snd.output(); // the initial window goes, the rest waits for cwnd
  assert.equal(snd.sendLimitNow(), LIMIT_CWND);
  clock.advance(1);
  // Round trips until everything is sent; the last flight still unacknowledged.
  while (snd.unsentBytes > 0) {
    assert(snd.onAck(ack(snd.sndNxt)));
    snd.output();
    clock.advance(1);
  }
  assert.equal(snd.sendLimitNow(), LIMIT_APP, "all sent, room in the buffer: the writer");
  assert(snd.onAck(ack(snd.sndNxt)));
  snd.output();
  assert.equal(snd.sendLimitNow(), LIMIT_IDLE);
});

Deno.test("send limit: all of a full send buffer in flight is sndbuf, a closed peer window rwnd", () => {
  {
    const { snd } = sender();
    snd.cc.setCwnd(200 * MSS);
    snd.setBufferSize(20 * MSS);
    snd.write(new Uint8Array(20 * MSS), 0, 20 * MSS);
    snd.output();
    assert.equal(snd.sndBuf.length, 20 * MSS);
    assert.equal(snd.sendLimitNow(), LIMIT_SNDBUF, "the writer is not woken: the buffer");
  }
  {
    const { snd } = sender(false, 8); // 8 << 7 = 1024 bytes: one segment
    snd.cc.setCwnd(200 * MSS);
    snd.setBufferSize(1 << 20);
    snd.write(new Uint8Array(50 * MSS), 0, 50 * MSS);
    snd.output();
    assert.equal(snd.sendLimitNow(), LIMIT_RWND);
  }
});

Deno.test("send limit: a pacer holding with the windows open is pacing, until its release time", () => {
  const { snd, clock } = sender(true);
  snd.cc.setCwnd(200 * MSS);
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(100 * MSS), 0, 100 * MSS);
  snd.pacer.rateBytesPerMs = 10 * MSS; // 10 segments a ms
  snd.output(); // a horizon's credit goes, then the pacer holds
  assert.equal(snd.sendLimitNow(), LIMIT_PACING);
  clock.advance(5);
  assert.equal(snd.sendLimitNow(), LIMIT_DUE, "released: a pass is due");
});

Deno.test("pacing: a buffer run dry under a blocked writer keeps the pacer's credit, and is not app-limited", () => {
  const { snd, conn, clock } = sender(true);
  snd.cc.setCwnd(200 * MSS);
  snd.setBufferSize(40 * MSS);
  // The writer has 60 segments; 40 fit: it waits for room.
  assert.equal(snd.write(new Uint8Array(60 * MSS), 0, 60 * MSS), 40 * MSS);
  assert.ok(snd.writerWaiting);
  snd.pacer.rateBytesPerMs = 10 * MSS; // 10 segments a ms
  snd.output(); // a horizon's credit, then the pacer holds
  clock.advance(1);
  snd.output(); // a ms at the rate
  const first = conn.sentBytes;
  assert.ok(first >= 20 * MSS && first < 25 * MSS, `${first / MSS} segments`);
  // Their ACK makes room enough to wake the writer; before it runs the loop stalls 5 ms.
  assert(snd.onAck(ack(snd.sndNxt)));
  clock.advance(5);
  snd.output(); // what is left goes: the buffer runs dry
  assert.equal(snd.unsentBytes, 0);
  assert.equal(conn.sentBytes, 40 * MSS);
  assert.ok(!snd.rate.appLimitedNow, "the writer has more: not application-limited");
  assert.ok(snd.pacer.held, "the time until the writer refills is the loop's");
  // The writer's reaction, later in the same turn of the loop: the buffer is full again, and
  // the next pass may send what the pacer's rate allowed over the stall (3 ms of it unused),
  // not one horizon.
  clock.advance(0.2);
  assert.equal(snd.write(new Uint8Array(20 * MSS), 0, 20 * MSS), 20 * MSS);
  assert.ok(!snd.writerWaiting);
  snd.output();
  assert.equal(
    conn.sentBytes - 40 * MSS,
    20 * MSS,
    `${(conn.sentBytes - 40 * MSS) / MSS} segments`,
  );
});

Deno.test("send limit: a CLOSED connection with data unacknowledged is idle, not app or sndbuf", () => {
  const { snd, conn } = sender();
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(3 * MSS), 0, 3 * MSS);
  snd.output();
  assert.equal(conn.sentBytes, 3 * MSS);
  assert.equal(snd.sendLimitNow(), LIMIT_APP, "all sent, unacknowledged, room: the writer");
  conn.state = TcpState.CLOSED; // reset by the peer or aborted: nothing will be sent again
  assert.equal(snd.sendLimitNow(), LIMIT_IDLE);
});

Deno.test("pacing: a writer that shuts down is no longer waiting for room", () => {
  const { snd } = sender(true);
  snd.setBufferSize(4 * MSS);
  assert.equal(snd.write(new Uint8Array(6 * MSS), 0, 6 * MSS), 4 * MSS);
  assert.ok(snd.writerWaiting);
  snd.queueFin(); // the rest is abandoned: a later dry buffer is the application's limit
  assert.ok(!snd.writerWaiting);
});
