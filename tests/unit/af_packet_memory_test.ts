// Two AfPacketRingDriver ends joined in memory (`AfPacketRingDriver.memoryPair`,
// drivers/af_packet_memory.ts): what one end transmits arrives at the other through the real
// TPACKET_V2 slot layout — frame, flags from the vnet header, oversized frames through the copy
// queue in copy mode and cut short without it, a full RX ring dropping and flagging the loss.

import assert from "node:assert/strict";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { packetRingGeometry, packetRingSizes } from "../../drivers/af_packet_ring_setup.ts";
import {
  GSO_NONE,
  GSO_TCPV4,
  RX_CSUM_PARTIAL,
  RX_GSO,
  RxBatch,
  TxOffload,
} from "../../link/driver.ts";

/** An Ethernet frame of `len` bytes from `src` to `dst`, IPv4 EtherType, byte i = i & 0xff. */
function frame(dst: Uint8Array, src: Uint8Array, len: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 14; i < len; i++) f[i] = i & 0xff;
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

/** A TCP/IPv4 checksum offload, with segmentation when `gsoType` asks for it. */
function offload(gsoType: number, gsoSize: number, hdrLen: number): TxOffload {
  const o = new TxOffload();
  o.needsCsum = true;
  o.csumStart = 34;
  o.csumOffset = 16;
  o.gsoType = gsoType;
  o.gsoSize = gsoSize;
  o.hdrLen = hdrLen;
  return o;
}

function received(batch: RxBatch, i: number): Uint8Array {
  return batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
}

Deno.test("memory pair: frames cross both ways, in order, byte-exact", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500 });
  try {
    assert.equal(a.fd, -1);
    assert.equal(a.kind, "af_packet");
    assert.notDeepEqual(a.mac, b.mac);
    const sent = [60, 100, 1514].map((n) => frame(b.mac, a.mac, n));
    for (const f of sent) assert.ok(a.transmit(f, 0, f.length, null));
    const batch = new RxBatch(64);
    assert.equal(b.receive(batch, 64), 0, "nothing before the kick");
    a.flush();
    assert.equal(a.stats.txKicks, 1);
    assert.equal(b.receive(batch, 64), 3);
    for (let i = 0; i < 3; i++) assert.deepEqual(received(batch, i), sent[i]);
    assert.equal(batch.flags[0], 0);
    b.release(batch);
    assert.equal(a.receive(batch, 64), 0, "no looped-back copy of its own frames");
    const back = frame(a.mac, b.mac, 200);
    assert.ok(b.transmit(back, 0, back.length, null));
    b.flush();
    assert.equal(a.receive(batch, 64), 1);
    assert.deepEqual(received(batch, 0), back);
    a.release(batch);
    // The rings wrap: many more frames than slots, a batch at a time.
    let got = 0;
    for (let round = 0; round < 40; round++) {
      for (let k = 0; k < 50; k++) {
        const f = frame(b.mac, a.mac, 64 + k);
        assert.ok(a.transmit(f, 0, f.length, null));
      }
      a.flush();
      while (b.receive(batch, 64) > 0) {
        for (let i = 0; i < batch.count; i++) assert.equal(batch.len[i], 64 + ((got + i) % 50));
        got += batch.count;
        b.release(batch);
      }
    }
    assert.equal(got, 2000);
    assert.equal(b.stats.rxDropped, 0);
    // Plain frames: no checksum flag, no super-frame.
    assert.equal(b.stats.rxCsumPartialFrames, 0);
    assert.equal(b.stats.rxCsumValidFrames, 0);
    assert.equal(b.stats.rxGsoFrames, 0);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("memory pair: a checksum left to the receiver arrives CSUMNOTREADY with its header", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500 });
  try {
    const f = frame(b.mac, a.mac, 120);
    const partial = offload(GSO_NONE, 0, 0);
    assert.ok(a.transmit(f, 0, f.length, partial));
    a.flush();
    const batch = new RxBatch(8);
    assert.equal(b.receive(batch, 8), 1);
    assert.notEqual(batch.flags[0] & RX_CSUM_PARTIAL, 0);
    assert.equal(b.stats.rxCsumPartialFrames, 1);
    assert.equal(b.stats.rxGsoFrames, 0);
    assert.deepEqual(received(batch, 0), f);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("memory pair: a super-frame comes whole through the copy queue (MTU-sized slots)", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500, rxSplit: false });
  try {
    const f = frame(b.mac, a.mac, 14 + 20 + 20 + 3 * 1448);
    const tso = offload(GSO_TCPV4, 1448, 54);
    assert.ok(a.transmit(f, 0, f.length, tso));
    a.flush();
    const batch = new RxBatch(8);
    assert.equal(b.receive(batch, 8), 1);
    assert.equal(b.stats.rxCopied, 1);
    assert.notEqual(batch.flags[0] & RX_GSO, 0);
    // Counted on the copy path too: one super-frame, its checksum left partial.
    assert.equal(b.stats.rxGsoFrames, 1);
    assert.equal(b.stats.rxCsumPartialFrames, 1);
    assert.deepEqual(received(batch, 0), f);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("memory pair: super-frame slots hold a frame whole; MTU-9000 copy mode takes a bigger one", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500, rxSmallSlots: false });
  try {
    assert.equal(b.rxCopyMode, false);
    const f = frame(b.mac, a.mac, 9000);
    const tso = offload(GSO_TCPV4, 1448, 54);
    assert.ok(a.transmit(f, 0, f.length, tso));
    a.flush();
    const batch = new RxBatch(8);
    // 68 KiB slots hold it whole.
    assert.equal(b.receive(batch, 8), 1);
    assert.deepEqual(received(batch, 0), f);
    assert.equal(b.stats.rxGsoFrames, 1);
    b.release(batch);
  } finally {
    a.close();
    b.close();
  }
  const [c, d] = AfPacketRingDriver.memoryPair({ mtu: 9000, rxSmallSlots: true, rxSplit: false });
  try {
    // MTU-sized slots at 9000 hold a 9014-byte frame; a 20,000-byte super-frame needs the copy.
    const f = frame(d.mac, c.mac, 20_000);
    const tso = offload(GSO_TCPV4, 8948, 54);
    assert.ok(c.transmit(f, 0, f.length, tso));
    c.flush();
    const batch = new RxBatch(8);
    assert.equal(d.receive(batch, 8), 1);
    assert.deepEqual(received(batch, 0), f);
  } finally {
    c.close();
    d.close();
  }
});

Deno.test("memory pair: the split receive by default, as open's: super-frames in the large ring, in order", () => {
  // The real driver reads two rings (RxRingMerge) at MTU 1500 and 9000 alike; a memory pair with
  // one ring left the merge's code to the first real frames (bench/README.md, "conn9m").
  for (const mtu of [1500, 9000]) {
    const [a, b] = AfPacketRingDriver.memoryPair({ mtu });
    try {
      assert.equal(b.rxSplit, true, `split at MTU ${mtu}`);
      assert.equal(b.rxCopyMode, true, `MTU-sized slots at MTU ${mtu}`);
      // The ring of large slots as big as open's (240 of 68 KiB): a smaller one overran with
      // 32 connections fetching 100 KB each, and the warm-up tests only bound its drops.
      const real = packetRingGeometry(mtu, mtu, true, packetRingSizes({ ifname: "us0" }));
      const perBlock = Math.floor(real.rxBlockBytes / real.rxLargeSlotBytes);
      assert.equal(b.rxLargeFrames, real.rxLargeBlocks * perBlock, `large slots at MTU ${mtu}`);
      assert.equal(b.rxLargeFrames, 240, `large slots at MTU ${mtu}`);
      const big = 14 + 20 + 20 + 3 * (mtu - 52);
      const lens = [100, big, mtu + 14, big + 100, 60];
      const sent = lens.map((n) => frame(b.mac, a.mac, n));
      for (let i = 0; i < sent.length; i++) {
        const tso = lens[i] > mtu + 14 ? offload(GSO_TCPV4, mtu - 52, 54) : null;
        assert.ok(a.transmit(sent[i], 0, sent[i].length, tso));
      }
      a.flush();
      const batch = new RxBatch(8);
      assert.equal(b.receive(batch, 8), sent.length);
      for (let i = 0; i < sent.length; i++) assert.deepEqual(received(batch, i), sent[i], `${i}`);
      b.release(batch);
      assert.equal(b.stats.rxLargeRingFrames, 2);
      assert.equal(b.stats.rxSmallRingFrames, 3);
      assert.equal(b.stats.rxCopied, 0);
    } finally {
      a.close();
      b.close();
    }
  }
  const [c, d] = AfPacketRingDriver.memoryPair({ mtu: 1500, rxSplit: false });
  try {
    assert.equal(d.rxSplit, false);
  } finally {
    c.close();
    d.close();
  }
});

Deno.test("memory pair: a full RX ring drops (counted) and flags the next frame LOSING", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 9000, rxSmallSlots: false, txFrames: 256 });
  try {
    const slots = b.rxFrames;
    for (let k = 0; k < slots + 5; k++) {
      const f = frame(b.mac, a.mac, 100);
      assert.ok(a.transmit(f, 0, f.length, null));
    }
    a.flush();
    const batch = new RxBatch(1024);
    assert.equal(b.receive(batch, 1024), slots);
    b.release(batch);
    const f = frame(b.mac, a.mac, 100);
    assert.ok(a.transmit(f, 0, f.length, null));
    a.flush();
    assert.equal(b.receive(batch, 1024), 1);
    // The walker saw TP_STATUS_LOSING and read the stand-in's drop count.
    assert.equal(b.stats.rxKernelDrops, 5);
    assert.equal(b.stats.rxDropped, 5);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("memory pair: an end that sends after its peer closed drops the frames (counted), no throw", () => {
  const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500 });
  b.close(); // its ring memory is detached: nothing may be written there any more
  try {
    // A stack stopping second still sends its RSTs and FINs. Three TX rings' worth: the slots
    // of dropped frames come back, or the transmits would stop succeeding.
    const f = frame(b.mac, a.mac, 100);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 64; i++) assert.ok(a.transmit(f, 0, f.length, null), `${round}/${i}`);
      a.flush();
    }
    assert.equal(a.stats.txKicks, 3);
  } finally {
    a.close();
  }
});

Deno.test("memory pair: closing it leaves V8's ArrayBufferDetaching protector intact", async () => {
  // The process's first detach of an ArrayBuffer invalidates that protector and with it all the
  // code V8 compiled so far: closing the warm-up's pair did, so the real driver's code compiled
  // in the warm-up's part on these rings was gone at the first real frame (bench/README.md,
  // "conn9m"). The pair's memory is V8's own; nothing unmaps it, nothing need detach it.
  const driver = new URL("../../drivers/af_packet_ring.ts", import.meta.url).href;
  const script = `import { AfPacketRingDriver } from "${driver}";
    const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500 });
    a.close();
    b.close();
    console.log("closed");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--trace-protector-invalidation", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(text, /closed/);
  assert.doesNotMatch(text, /Invalidating protector cell ArrayBufferDetaching/);
});
