import assert from "node:assert/strict";
import { connectPair, makeSimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";

/** Byte `i` of the stream the client sends. */
const byteAt = (i: number): number => (i * 7 + (i >>> 11)) & 0xff;

Deno.test("tcp skip: drops bytes in order without copying, reads go on at the right offset, the window reopens, EOF is 0", () => {
  // A 64 KiB receive buffer with no auto-tuning: 1 MiB only crosses if skip opens the window.
  const net = makeSimNet({
    tcpB: { receiveBufferBytes: 64 * 1024, maxReceiveBufferBytes: 64 * 1024 },
  });
  const { c, s } = connectPair(net);
  const total = 1 << 20;
  const chunk = new Uint8Array(32 * 1024);
  const rbuf = new Uint8Array(1000);
  let written = 0;
  let consumed = 0;
  let skips = 0;
  let reads = 0;
  let closed = false;
  let eofSeen = false;
  const ok = net.run(() => {
    while (written < total) {
      const n = Math.min(chunk.length, total - written);
      for (let i = 0; i < n; i++) chunk[i] = byteAt(written + i);
      const k = c.write(chunk, 0, n);
      if (k <= 0) break;
      written += k;
    }
    if (written === total && !closed) {
      c.shutdownWrite();
      closed = true;
    }
    for (;;) {
      // Alternate: drop up to 3,000 bytes, then read (and check) up to 1,000.
      const n = s.skip(3000);
      if (n === 0) {
        eofSeen = true;
        break;
      }
      if (n < 0) break;
      assert.ok(n <= 3000);
      consumed += n;
      skips++;
      const r = s.read(rbuf, 0, rbuf.length);
      if (r > 0) {
        for (let i = 0; i < r; i++) {
          if (rbuf[i] !== byteAt(consumed + i)) {
            throw new Error(`byte ${consumed + i} read after a skip is wrong`);
          }
        }
        consumed += r;
        reads++;
      }
    }
    return eofSeen;
  }, 60_000);
  assert.ok(ok, `the transfer ended: consumed ${consumed} of ${total}`);
  assert.equal(consumed, total);
  assert.ok(skips > 100 && reads > 100, `skips ${skips}, reads ${reads}`);
  assert.equal(s.readableBytes, 0);
  assert.equal(s.skip(10), 0, "EOF again");
  assert.equal(s.state, TcpState.CLOSE_WAIT);
});

Deno.test("tcp skip: nothing buffered is EAGAIN (-1), skip(0) is 0, a whole buffer goes at once and a closed window is announced open", () => {
  const cap = 64 * 1024;
  const net = makeSimNet({ tcpB: { receiveBufferBytes: cap, maxReceiveBufferBytes: cap } });
  const { c, s } = connectPair(net);
  assert.equal(s.skip(100), -1);
  assert.equal(s.skip(0), 0);
  const data = new Uint8Array(2 * cap);
  assert.equal(c.write(data, 0, data.length), data.length);
  // The receiver's buffer fills: the sender sees the window closed (window scaling may leave
  // the last byte or two of the buffer unused).
  net.advance(1000);
  assert.equal(c.snd.sndWnd, 0);
  const held = s.readableBytes;
  assert.ok(held > cap - 16, `${held} bytes held`);
  assert.equal(s.rcv.ackDue, false);
  assert.equal(s.skip(1 << 30), held);
  assert.equal(s.readableBytes, 0);
  // Linux tcp_cleanup_rbuf: the window update goes out at the end of this tick, not on a
  // persist probe of the sender.
  assert.equal(s.rcv.ackDue, true, "a window update is due");
  assert.equal(s.skip(100), -1);
  assert.ok(net.run(() => c.snd.sndWnd > 0, 5000));
  assert.ok(net.run(() => s.readableBytes > 0, 5000));
  assert.ok(s.skip(1 << 30) > 0);
});
