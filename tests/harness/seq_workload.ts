/**
 * A TCP workload on the simulated wire with the sequence numbers and timestamps pinned where
 * V8 keeps them as small integers (< 2**30) or not (≥ 2**31, and across the 2**32 wrap): bulk
 * data one way or both, or a 64-byte request/response, driven to a byte count or a number of
 * round trips. `tests/sim/tcp_seq_alloc_test.ts` and `bench/seq_alloc.ts` measure what it
 * allocates.
 *
 * @module
 */

import { connectPair, makeSimNet, type SimNet } from "./sim_net.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";

/** Where the sequence numbers and timestamps start (`pinnedIsn`, `pinnedTimestampOffset`). */
export const ISN_PLACES: Record<string, { isn: number; tsOffset: number }> = {
  low: { isn: 0x0100_0000, tsOffset: 0 },
  high: { isn: 0x9000_0000, tsOffset: 0xa000_0000 },
  // The data crosses 2**32 after 40 MB (after a 30 MB warm-up), the timestamps 1 ms after the
  // start of the simulated clock (`makeSimNet` starts it at 1,000,000 ms).
  wrap: { isn: 0x1_0000_0000 - 40_000_000, tsOffset: 0xffff_ffff - 1_000_000 },
  // One of the two high, the other low: which of them a cost follows.
  "isn-high": { isn: 0x9000_0000, tsOffset: 0 },
  "ts-high": { isn: 0x0100_0000, tsOffset: 0xa000_0000 },
};

/**
 * The simulated pair's IPv4 addresses: `high` in 198.18.0.0/15 (≥ 64.0.0.0 = 2**30, so a u32
 * V8 boxes wherever it crosses a call) and `low` in 10.0.0.0/8 (small integers).
 */
export const ADDR_PLACES: Record<string, [IpAddress, IpAddress]> = {
  high: [IpAddress.parse("198.18.0.1"), IpAddress.parse("198.18.0.2")],
  low: [IpAddress.parse("10.0.0.1"), IpAddress.parse("10.0.0.2")],
  // IPv6 (fd00::/8: every address's first word is ≥ 2**31); the IPv4 ones stay "high"'s.
  v6: [IpAddress.parse("fd00:13::1"), IpAddress.parse("fd00:13::2")],
};

/** A bulk flow (one or both ways) or a ping-pong over one connection of `net`. */
export class SeqWorkload {
  readonly #buf: Uint8Array;
  readonly #rbuf = new Uint8Array(256 * 1024);
  #got = 0;
  #sent = 0;
  /** Connection ends: client on a, server on b. */
  readonly c: TcpEndpoint;
  readonly s: TcpEndpoint;

  /** Connect over `net`; `rrBytes` > 0 makes it a request/response of that size. */
  constructor(readonly net: SimNet, readonly both: boolean, readonly rrBytes = 0) {
    const { c, s } = connectPair(net);
    this.c = c;
    this.s = s;
    this.#buf = new Uint8Array(rrBytes > 0 ? rrBytes : 64 * 1024).fill(7);
    c.setNoDelay(true);
    s.setNoDelay(true);
  }

  /** Move `bytes` of bulk data (each way with `both`). */
  bulk(bytes: number): void {
    const target = this.#got + bytes;
    const ok = this.net.run(() => {
      this.#push(this.c);
      if (this.both) this.#push(this.s);
      this.#got += this.#drain(this.s);
      if (this.both) this.#drain(this.c);
      return this.#got >= target;
    }, 600_000);
    if (!ok) throw new Error("seq_workload: the bulk transfer stalled");
  }

  /** `n` request/response round trips. */
  roundTrips(n: number): void {
    for (let i = 0; i < n; i++) {
      this.#sent = 0;
      this.#got = 0;
      if (!this.net.run(this.#rrStep, 10_000)) {
        throw new Error("seq_workload: a round trip stalled");
      }
    }
  }

  /** One step of a round trip (one closure for all of them: the rig allocates nothing). */
  readonly #rrStep = (): boolean => {
    const len = this.rrBytes;
    if (this.#sent === 0) this.#sent = this.c.write(this.#buf, 0, len);
    const r = this.s.read(this.#rbuf, 0, len);
    if (r > 0) this.s.write(this.#buf, 0, r);
    const back = this.c.read(this.#rbuf, 0, len);
    if (back > 0) this.#got += back;
    return this.#got >= len;
  };

  #push(ep: TcpEndpoint): void {
    while (ep.write(this.#buf, 0, this.#buf.length) > 0) { /* fill the send buffer */ }
  }

  #drain(ep: TcpEndpoint): number {
    let n = 0;
    for (let k = ep.read(this.#rbuf, 0, this.#rbuf.length); k > 0;) {
      n += k;
      k = ep.read(this.#rbuf, 0, this.#rbuf.length);
    }
    return n;
  }
}

/**
 * A simulated pair with sequence numbers and timestamps pinned at `place`, the addresses at
 * `addrPlace` (a key of {@link ADDR_PLACES}; "v6": connected over IPv6, the IPv4 addresses
 * "high"'s), the wire losing `lossRate` of the frames and delaying each by `delayMs` (a
 * fraction of a millisecond makes the clock fractional without loss, as a real one is).
 */
export function seqNet(
  place: string,
  mtu: number,
  addrPlace = "high",
  lossRate = 0,
  delayMs = 0,
): SimNet {
  const p = ISN_PLACES[place];
  if (p === undefined) throw new Error(`seq_alloc: --isn is one of ${Object.keys(ISN_PLACES)}`);
  const addrs = ADDR_PLACES[addrPlace];
  if (addrs === undefined) {
    throw new Error(`seq_alloc: --addr is one of ${Object.keys(ADDR_PLACES)}`);
  }
  const v6 = addrs[0].family === 6;
  const net = makeSimNet({
    mtu,
    wire: { seed: 1, lossRate, delayMs },
    addrA: v6 ? ADDR_PLACES.high[0] : addrs[0],
    addrB: v6 ? ADDR_PLACES.high[1] : addrs[1],
    poolBuffers: 8192,
    tcp: {
      pinnedIsn: p.isn,
      pinnedTimestampOffset: p.tsOffset,
      sendBufferBytes: 1 << 20,
      receiveBufferBytes: 1 << 20,
    },
  });
  if (!v6) return net;
  net.a.ipv6.addAddress(1, addrs[0], 64);
  net.b.ipv6.addAddress(1, addrs[1], 64);
  net.advance(2500); // duplicate address detection
  return { ...net, addrA: addrs[0], addrB: addrs[1] };
}
