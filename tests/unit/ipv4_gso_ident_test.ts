/**
 * The IPv4 identification of TCP super-segments: the link (Linux's GSO, or a NIC's TSO) gives
 * the segments it cuts from one super-segment the identifications id, id + 1, …, id + n − 1,
 * so the next datagram must carry id + n — as Linux's own sender does (its per-socket counter
 * advances by the segment count, `ip_select_ident_segs`). A receiver's GRO merges a flow's
 * consecutive DF segments only while each carries the first one's identification plus the
 * count merged so far; with id + 1 after every super-segment it ends its merge at each one.
 */

import assert from "node:assert/strict";
import type { TxOffload } from "../../link/driver.ts";
import { GSO_NONE } from "../../link/driver.ts";
import { TcpRig } from "../harness/tcp_rig.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";

const MSS = 1000;

/** One IPv4 TCP frame as the link got it: its identification and the segments it becomes. */
interface IdentFrame {
  id: number;
  segments: number;
  payload: number;
}

Deno.test("ipv4 gso ident: the datagram after a TCP super-segment of n segments carries id + n", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 }, tsoBytes: 65536 });
  const frames: IdentFrame[] = [];
  const link = rig.link;
  const transmit = link.transmit.bind(link);
  link.transmit = (frame: Uint8Array, off: number, len: number, offload: TxOffload | null) => {
    const l3 = off + 14;
    if (((frame[off + 12] << 8) | frame[off + 13]) === 0x0800 && frame[l3 + 9] === 6) {
      const ihl = (frame[l3] & 0x0f) * 4;
      const total = (frame[l3 + 2] << 8) | frame[l3 + 3];
      const tcpHdr = (frame[l3 + ihl + 12] >>> 4) * 4;
      const payload = total - ihl - tcpHdr;
      const gso = offload !== null && offload.gsoType !== GSO_NONE ? offload.gsoSize : 0;
      frames.push({
        id: (frame[l3 + 4] << 8) | frame[l3 + 5],
        segments: gso > 0 ? Math.ceil(payload / gso) : 1,
        payload,
      });
    }
    return transmit(frame, off, len, offload);
  };
  const c = rig.openActive({ mss: MSS, sackPermitted: true, windowScale: 7 });
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, window: 1000 }));
  c.ep.setNoDelay(true);
  c.ep.write(new Uint8Array(60 * MSS).fill(7), 0, 60 * MSS);
  rig.tick();
  const una = seqAdd(c.iss, 1);
  // Acknowledge what was sent, a few times: slow start sends more super-segments each round,
  // and each ACK's own output may be a single segment.
  for (let acked = 2; acked <= 30; acked += 4) {
    rig.clock.advance(1);
    rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(una, acked * MSS), window: 1000 }));
  }
  const data = frames.filter((f) => f.payload > 0);
  assert.ok(data.length >= 4, `${data.length} data frames`);
  assert.ok(data.some((f) => f.segments > 1), "super-segments in use");
  for (let i = 1; i < frames.length; i++) {
    const want = (frames[i - 1].id + frames[i - 1].segments) & 0xffff;
    assert.equal(
      frames[i].id,
      want,
      `frame ${i}: id ${frames[i].id} after ${frames[i - 1].id} of ${
        frames[i - 1].segments
      } segments`,
    );
  }
});
