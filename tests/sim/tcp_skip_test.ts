import assert from "node:assert/strict";
import { connectPair, makeSimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { EV_READABLE } from "../../core/event_mux.ts";

/** Byte `i` of the stream the client sends. */
const byteAt = (i: number): number => (i * 7 + (i >>> 11)) & 0xff;

/** How far the client got with the pattern stream. */
class Feed {
  written = 0;
  closed = false;
  readonly chunk = new Uint8Array(32 * 1024);
}

/** Write the pattern up to `total` bytes as the window allows, then half-close once. */
function feed(
  c: { write(b: Uint8Array, o: number, n: number): number; shutdownWrite(): void },
  f: Feed,
  total: number,
): void {
  while (f.written < total) {
    const n = Math.min(f.chunk.length, total - f.written);
    for (let i = 0; i < n; i++) f.chunk[i] = byteAt(f.written + i);
    const k = c.write(f.chunk, 0, n);
    if (k <= 0) break;
    f.written += k;
  }
  if (f.written === total && !f.closed) {
    c.shutdownWrite();
    f.closed = true;
  }
}

Deno.test("tcp skip: drops bytes in order without copying, reads go on at the right offset, the window reopens, EOF is 0", () => {
  // A 64 KiB receive buffer with no auto-tuning: 1 MiB only crosses if skip opens the window.
  const net = makeSimNet({
    tcpB: { receiveBufferBytes: 64 * 1024, maxReceiveBufferBytes: 64 * 1024 },
  });
  const { c, s } = connectPair(net);
  const total = 1 << 20;
  const sent = new Feed();
  const rbuf = new Uint8Array(1000);
  let consumed = 0;
  let skips = 0;
  let reads = 0;
  let eofSeen = false;
  const ok = net.run(() => {
    feed(c, sent, total);
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

/**
 * Move `total` bytes c → s with the server reading through `readPosted` (`buf` null: posted
 * skips) in steps of at most `step`; every `plainEvery`-th step is a plain `read` instead (it
 * ends the post). Returns the bytes taken straight from frames and the reads' checked total.
 */
function postedTransfer(
  total: number,
  step: number,
  useBuffer: boolean,
  plainEvery: number,
): { direct: number; got: number } {
  const net = makeSimNet();
  const { c, s } = connectPair(net);
  const stats = net.b.stats.tcp;
  const sent = new Feed();
  const buf = new Uint8Array(step);
  let got = 0;
  let steps = 0;
  let eof = false;
  const ok = net.run(() => {
    feed(c, sent, total);
    for (;;) {
      const plain = useBuffer && plainEvery > 0 && ++steps % plainEvery === 0;
      const n = plain ? s.read(buf, 0, step) : s.readPosted(useBuffer ? buf : null, 0, step);
      if (n === 0) {
        eof = true;
        break;
      }
      if (n < 0) break;
      assert.ok(n <= step);
      if (useBuffer) {
        for (let i = 0; i < n; i++) {
          if (buf[i] !== byteAt(got + i)) throw new Error(`byte ${got + i} is wrong`);
        }
      }
      got += n;
    }
    return eof;
  }, 60_000);
  assert.ok(ok, `the transfer ended: ${got} of ${total}`);
  return { direct: stats.TCPRcvDirectBytes, got };
}

Deno.test("tcp readPosted: data arriving while a read is posted goes straight into the reader's buffer, in order, byte-exact", () => {
  const total = 3 << 20;
  const r = postedTransfer(total, 256 * 1024, true, 0);
  assert.equal(r.got, total);
  // Most of the stream never entered the receive buffer (the reader is always waiting).
  assert.ok(r.direct > total / 2, `direct ${r.direct} of ${total}`);
});

Deno.test("tcp readPosted: small posted reads, plain reads in between, posted skips: every byte once, in order", () => {
  const total = 1 << 20;
  // Posted reads of 3,000 bytes: a segment fills one and its rest goes to the receive buffer.
  const a = postedTransfer(total, 3000, true, 0);
  assert.equal(a.got, total);
  assert.ok(a.direct > 0 && a.direct < total, `direct ${a.direct}`);
  // Every third step a plain read: it collects what a post took first.
  const b = postedTransfer(total, 3000, true, 3);
  assert.equal(b.got, total);
  assert.ok(b.direct > 0);
  // Posted skips: the count only.
  const c = postedTransfer(total, 1 << 30, false, 0);
  assert.equal(c.got, total);
  assert.ok(c.direct > total / 2, `direct ${c.direct}`);
});

Deno.test("tcp readPosted: posted bytes are readable and unread (readiness, readableBytes, close with them resets)", () => {
  const net = makeSimNet();
  const { c, s } = connectPair(net);
  const buf = new Uint8Array(10_000);
  assert.equal(s.readPosted(buf, 0, buf.length), -1);
  assert.equal(s.readableBytes, 0);
  const data = new Uint8Array(4000).fill(7);
  assert.equal(c.write(data, 0, data.length), data.length);
  assert.ok(net.run(() => s.readableBytes === 4000, 5000));
  assert.equal(s.rcv.rcvBuf.length, 0, "nothing went through the receive buffer");
  assert.equal(net.b.stats.tcp.TCPRcvDirectBytes, 4000);
  assert.ok((s.wq.readiness & EV_READABLE) !== 0, "readable");
  assert.equal(buf[3999], 7, "already in the reader's buffer");
  // A read into another buffer gets the posted bytes copied.
  const other = new Uint8Array(100);
  assert.equal(s.read(other, 0, 100), 100);
  assert.equal(other[99], 7);
  assert.equal(s.readableBytes, 3900);
  // A posted skip's bytes cannot be read: EINVAL, the bytes stay for a skip.
  assert.equal(s.readPosted(null, 0, 1 << 20), 3900);
  assert.equal(s.readPosted(null, 0, 1 << 20), -1);
  assert.equal(c.write(data, 0, 10), 10);
  assert.ok(net.run(() => s.readableBytes === 10, 5000));
  assert.throws(() => s.read(other, 0, 100), /EINVAL/);
  assert.equal(s.skip(100), 10);
  // Unread posted bytes at close: a reset, as with unread buffered data.
  assert.equal(s.readPosted(buf, 0, buf.length), -1);
  assert.equal(c.write(data, 0, 50), 50);
  assert.ok(net.run(() => s.readableBytes === 50, 5000));
  const resets = net.b.stats.tcp.OutRsts;
  s.close();
  assert.equal(net.b.stats.tcp.OutRsts, resets + 1);
});
