/**
 * The gathered payload: a TCP segment leaves with its headers in a packet buffer and its
 * payload read from the send ring by the driver (`LinkDriver.transmitGather`), one copy into
 * the driver's slot. The simulated wire takes that path for every TCP segment, so these tests
 * check the bytes that arrive, through the ring's wrap point and retransmissions after it, and
 * that every layer that keeps a packet copies the payload in first.
 */

import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, connectPair, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { ByteRing, type ByteSpan } from "../../core/byte_ring.ts";
import { HEADROOM_BYTES, type PayloadSource } from "../../core/packet_buffer.ts";
import { RouteResult } from "../../net/route_table.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { NetRxMeta } from "../../net/network_layer.ts";

/** Byte i of the test stream (not periodic at any ring or segment size used here). */
function patternByte(i: number): number {
  return (i * 31 + (i >>> 9) + (i >>> 17)) & 0xff;
}

/** What a's port saw of gathered TCP segments. */
interface GatherLog {
  /** Gathered transmissions. */
  frames: number;
  /** … whose payload straddled the end of the ring's storage (two runs). */
  straddling: number;
  /** Gathered transmissions of sequence numbers sent before (retransmissions). */
  resent: number;
  /** … of those, after a segment had straddled the wrap point (the ring had wrapped). */
  resentAfterWrap: number;
}

/** Count a's gathered transmissions, reading each payload's place in the ring. */
function watchGather(net: SimNet): GatherLog {
  const log: GatherLog = { frames: 0, straddling: 0, resent: 0, resentAfterWrap: 0 };
  const port = net.portA;
  const orig = port.transmitGather.bind(port);
  const span: ByteSpan = { buf: new Uint8Array(0), off: 0, len: 0 };
  const seen = new Set<number>();
  port.transmitGather = (frame, off, len, payload, payloadOff, payloadLen, o) => {
    if (payload !== null && payloadLen > 0) {
      log.frames++;
      assert(payload instanceof ByteRing);
      if (payload.readableSpan(payloadOff, span) < payloadLen) log.straddling++;
      // Ethernet 14 + IPv4 20 or IPv6 40: the sequence number is at +4 of the TCP header.
      const t = off + (frame[off + 12] === 0x86 ? 54 : 34);
      const seq = ((frame[t + 4] << 24) | (frame[t + 5] << 16) | (frame[t + 6] << 8) |
        frame[t + 7]) >>> 0;
      if (seen.has(seq)) {
        log.resent++;
        if (log.straddling > 0) log.resentAfterWrap++;
      }
      seen.add(seq);
    }
    return orig(frame, off, len, payload, payloadOff, payloadLen, o);
  };
  return log;
}

/** Write `total` pattern bytes from a to b in odd-sized chunks, read them all, check them. */
function transfer(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, total: number): void {
  const chunk = new Uint8Array(7_777);
  const got = new Uint8Array(total);
  let written = 0;
  let read = 0;
  assert(
    net.run(() => {
      while (written < total) {
        const n = Math.min(chunk.length, total - written);
        for (let i = 0; i < n; i++) chunk[i] = patternByte(written + i);
        const w = c.write(chunk, 0, n);
        if (w <= 0) break;
        written += w;
      }
      const r = s.read(got, read, total - read);
      if (r > 0) read += r;
      return read === total;
    }, 120_000),
    `read ${read} of ${total}`,
  );
  for (let i = 0; i < total; i++) {
    if (got[i] !== patternByte(i)) assert.fail(`byte ${i}: got ${got[i]}, sent ${patternByte(i)}`);
  }
}

Deno.test("tcp gather: payload bytes are exact across the send ring's wrap point", () => {
  // 10,000 bytes of send buffer (storage wraps every 16 KiB) and 1,448-byte segments on a
  // 10 Mbit/s link, whose ACKs come one by one so the ring never empties (an empty ring starts
  // over at 0): the segments fall across the end of the storage again and again.
  const net = makeSimNet({
    wire: { delayMs: 1, rateBitsPerSec: 10e6 },
    // Segments that do not end at the wrap (the default ends them there: TcpLayer.sndCopyViews).
    tcpA: { sendBufferBytes: 10_000, maxSendBufferBytes: 10_000, segmentsEndAtWrap: false },
  });
  const { c, s } = connectPair(net, 80);
  const log = watchGather(net);
  transfer(net, c, s, 400_000);
  assert(log.frames > 250, `${log.frames} gathered segments`);
  assert(log.straddling >= 10, `${log.straddling} segments straddled the wrap point`);
  assert.equal(net.b.stats.tcp.InCsumErrors, 0);
});

Deno.test("tcp gather: by default a segment ends at the wrap point, and the next laps reuse views", () => {
  // As above, with the segments ending where the storage wraps (`segmentsEndAtWrap`): none
  // straddles it, and the copies out of the ring find their views in the TCP layer's table
  // (a bulk sender's find all: tcp_send_copy_alloc_test.ts).
  const net = makeSimNet({
    wire: { delayMs: 1, rateBitsPerSec: 10e6 },
    tcpA: { sendBufferBytes: 10_000, maxSendBufferBytes: 10_000 },
  });
  const { c, s } = connectPair(net, 80);
  const log = watchGather(net);
  transfer(net, c, s, 400_000);
  const st = net.a.stats.tcp;
  assert(log.frames > 250, `${log.frames} gathered segments`);
  assert.equal(log.straddling, 0);
  assert(
    st.SndCopyViewHits > st.SndCopyViewMisses, // a 10,000-byte buffer: app-limited laps vary
    `${st.SndCopyViewHits} views reused, ${st.SndCopyViewMisses} made`,
  );
  assert.equal(net.b.stats.tcp.InCsumErrors, 0);
});

Deno.test("tcp gather: retransmissions after the ring wrapped carry the right bytes", () => {
  const net = makeSimNet({
    wire: { seed: 11, lossRate: 0.04, reorderRate: 0.02 },
    tcpA: { sendBufferBytes: 12_345, maxSendBufferBytes: 12_345, segmentsEndAtWrap: false },
  });
  const { c, s } = connectPair(net, 80);
  const log = watchGather(net);
  transfer(net, c, s, 600_000);
  assert(log.resentAfterWrap >= 5, `${log.resentAfterWrap} retransmissions after the wrap`);
  assert(log.straddling > 0);
  assert.equal(net.b.stats.tcp.InCsumErrors, 0);
});

Deno.test("tcp gather: IPv6 segments too (checksum summed over the ring's two runs)", () => {
  // MTU 1501: 1,429-byte segments, so runs of odd length meet at the wrap point.
  const net = makeSimNet({
    mtu: 1501,
    tcpA: { sendBufferBytes: 9_999, maxSendBufferBytes: 9_999, segmentsEndAtWrap: false },
    // The ACK rhythm of one ACK per second segment puts segments across the wrap point.
    tcpB: { coalesceAcks: false },
  });
  net.a.ipv6.addAddress(1, IpAddress.parse("fd00:5::1"), 64);
  net.b.ipv6.addAddress(1, IpAddress.parse("fd00:5::2"), 64);
  net.advance(2500); // duplicate address detection
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(IpAddress.parse("fd00:5::2"), 80);
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  const log = watchGather(net);
  const total = 200_001;
  const got = new Uint8Array(total);
  let written = 0;
  let read = 0;
  const src = new Uint8Array(total).map((_, i) => patternByte(i));
  assert(net.run(() => {
    if (written < total) written += Math.max(0, c.write(src, written, total - written));
    const r = s!.read(got, read, total - read);
    if (r > 0) read += r;
    return read === total;
  }, 60_000));
  assert.deepEqual(got, src);
  assert(log.frames > 100 && log.straddling > 0, `${log.frames} / ${log.straddling}`);
  assert.equal(net.b.stats.tcp.InCsumErrors, 0);
});

/** A payload source whose bytes a test changes after the send call returned. */
class Changing implements PayloadSource {
  bytes = new Uint8Array(3_000).map((_, i) => patternByte(i));
  peek(dst: Uint8Array, dstOff: number, fromOffset: number, len: number): number {
    const n = Math.min(len, this.bytes.length - fromOffset);
    dst.set(this.bytes.subarray(fromOffset, fromOffset + n), dstOff);
    return n;
  }
}

/** Protocol 253 (RFC 3692 experimentation) datagrams delivered to `net`'s host, by payload. */
function capture253(net: SimNet, host: "a" | "b"): Uint8Array[] {
  const got: Uint8Array[] = [];
  (host === "a" ? net.a : net.b).ipv4.registerProtocol(253, {
    receive(_m: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
      got.push(buf.slice(off, off + len));
    },
    receiveError(): void {},
  });
  return got;
}

/** Send `len` bytes of `src` from offset 50 as protocol 253 from a to `dst`, gathered. */
function send253(net: SimNet, src: Changing, dst: number, len: number): boolean {
  const route = new RouteResult();
  assert(net.a.ipv4.route(dst, route));
  const pb = net.a.pool.alloc(HEADROOM_BYTES)!;
  pb.gather(src, 50, len);
  assert.equal(pb.length, len);
  return net.a.ipv4.send(pb, route, ADDR_A.v4, dst, 253, 64, 0, false, null);
}

/**
 * Send a gathered datagram along a path that keeps it or slices it, then overwrite the
 * source (what a stale reference would send), and check what arrives.
 */
function sendThenChange(net: SimNet, dst: number, len: number, got: Uint8Array[]): void {
  const src = new Changing();
  const want = src.bytes.slice(50, 50 + len);
  assert(send253(net, src, dst, len));
  src.bytes.fill(0xee);
  assert(net.run(() => got.length === 1, 5000));
  assert.deepEqual(got[0], want);
}

Deno.test("tcp gather: a packet that waits for ARP takes its payload with it", () => {
  const net = makeSimNet({});
  const got = capture253(net, "b");
  net.a.ipv4.arp(1).flush(); // b unknown: the datagram queues behind an ARP request
  sendThenChange(net, ADDR_B.v4, 500, got);
});

Deno.test("tcp gather: a datagram to our own address is copied in before it is queued", () => {
  const net = makeSimNet({});
  sendThenChange(net, ADDR_A.v4, 500, capture253(net, "a"));
});

Deno.test("tcp gather: a datagram cut into fragments is copied in first", () => {
  const net = makeSimNet({});
  sendThenChange(net, ADDR_B.v4, 2_900, capture253(net, "b")); // two fragments at MTU 1500
});
