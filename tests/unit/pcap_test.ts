import assert from "node:assert/strict";
import {
  encodePcapHeader,
  LINKTYPE_ETHERNET,
  PCAP_FILE_HEADER_BYTES,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_RECORD_HEADER_BYTES,
  PCAP_SNAPLEN,
  PcapWriter,
} from "../../link/pcap_writer.ts";
import { PcapDriver } from "../../link/pcap_driver.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { RxBatch } from "../../link/driver.ts";
import { VirtualClock } from "../../core/clock.ts";

const TSHARK = "/usr/bin/tshark";
const MAC_A = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const MAC_B = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const IP_A = [198, 18, 0, 1];
const IP_B = [198, 18, 0, 2];

/** RFC 1071 Internet checksum of `b[off, off+len)`. */
function inetChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) sum += b[off + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An ARP request (RFC 826): who has 198.18.0.2? tell 198.18.0.1. 42 bytes. */
function arpRequest(): Uint8Array {
  const f = new Uint8Array(42);
  const v = new DataView(f.buffer);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  f.set(MAC_A, 6);
  v.setUint16(12, 0x0806); // EtherType ARP
  v.setUint16(14, 1); // htype Ethernet
  v.setUint16(16, 0x0800); // ptype IPv4
  f[18] = 6; // hlen
  f[19] = 4; // plen
  v.setUint16(20, 1); // request
  f.set(MAC_A, 22);
  f.set(IP_A, 28);
  f.set(IP_B, 38); // target hardware address stays zero
  return f;
}

/** An IPv4 header (RFC 791 §3.1) at 14 with a correct checksum; returns the frame. */
function ipv4Frame(protocol: number, payloadLen: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + payloadLen);
  const v = new DataView(f.buffer);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  v.setUint16(12, 0x0800);
  f[14] = 0x45; // version 4, IHL 5
  v.setUint16(16, 20 + payloadLen); // total length
  v.setUint16(18, 0x1234); // identification
  v.setUint16(20, 0x4000); // DF
  f[22] = 64; // TTL
  f[23] = protocol;
  f.set(IP_A, 26);
  f.set(IP_B, 30);
  v.setUint16(24, inetChecksum(f, 14, 20));
  return f;
}

/** An ICMP echo request (RFC 792) with 32 bytes of data and a correct checksum. */
function icmpEchoRequest(): Uint8Array {
  const f = ipv4Frame(1, 8 + 32);
  const v = new DataView(f.buffer);
  f[34] = 8; // echo request
  v.setUint16(38, 0x4242); // identifier
  v.setUint16(40, 1); // sequence
  for (let i = 0; i < 32; i++) f[42 + i] = 0x61 + (i % 23);
  v.setUint16(36, inetChecksum(f, 34, 8 + 32));
  return f;
}

/** A UDP datagram (RFC 768) in a ~64 KB IPv4 packet; checksum 0 = none (IPv4 only). */
function bigUdp(): Uint8Array {
  const payload = 65000 - 20 - 8;
  const f = ipv4Frame(17, 8 + payload);
  const v = new DataView(f.buffer);
  v.setUint16(34, 40000);
  v.setUint16(36, 9); // discard
  v.setUint16(38, 8 + payload);
  for (let i = 0; i < payload; i++) f[42 + i] = i & 0xff;
  return f;
}

/** Parse a pcap file's records back: [tsSec, tsUsec, incl, orig, bytes]. */
function parsePcap(file: Uint8Array): [number, number, number, number, Uint8Array][] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  assert.equal(v.getUint32(0, true), PCAP_MAGIC_MICROSECONDS);
  const out: [number, number, number, number, Uint8Array][] = [];
  let at = PCAP_FILE_HEADER_BYTES;
  while (at < file.length) {
    const incl = v.getUint32(at + 8, true);
    out.push([
      v.getUint32(at, true),
      v.getUint32(at + 4, true),
      incl,
      v.getUint32(at + 12, true),
      file.subarray(at + 16, at + 16 + incl),
    ]);
    at += PCAP_RECORD_HEADER_BYTES + incl;
  }
  assert.equal(at, file.length);
  return out;
}

function haveTshark(): boolean {
  try {
    return Deno.statSync(TSHARK).isFile;
  } catch {
    return false;
  }
}

function tshark(...args: string[]): string {
  const out = new Deno.Command(TSHARK, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `tshark ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
}

/**
 * tshark reads `frames` frames, finds nothing malformed, no bad checksum and reports no
 * expert error.
 */
function assertTsharkClean(path: string, frames: number): string {
  const verbose = tshark("-r", path, "-V", "-o", "ip.check_checksum:TRUE");
  for (let i = 1; i <= frames; i++) assert.match(verbose, new RegExp(`^Frame ${i}:`, "m"));
  assert.doesNotMatch(verbose, new RegExp(`^Frame ${frames + 1}:`, "m"));
  assert.doesNotMatch(verbose, /Malformed/i);
  assert.doesNotMatch(verbose, /Expert Info \(Error/);
  assert.doesNotMatch(verbose, /incorrect, should be/);
  const expert = tshark("-r", path, "-q", "-z", "expert");
  assert.doesNotMatch(expert, /Malformed/i);
  assert.doesNotMatch(expert, /^Errors \(/m);
  assert.doesNotMatch(expert, /Bad checksum/);
  return verbose;
}

Deno.test("pcap: the global header is the classic microsecond Ethernet one", () => {
  const h = encodePcapHeader();
  assert.deepEqual(
    h,
    new Uint8Array([
      0xd4,
      0xc3,
      0xb2,
      0xa1, // magic a1b2c3d4, little-endian
      2,
      0,
      4,
      0, // version 2.4
      0,
      0,
      0,
      0, // thiszone
      0,
      0,
      0,
      0, // sigfigs
      0,
      0,
      4,
      0, // snaplen 262144
      1,
      0,
      0,
      0, // LINKTYPE_ETHERNET
    ]),
  );
  assert.equal(PCAP_SNAPLEN, 262144);
  assert.equal(LINKTYPE_ETHERNET, 1);
});

Deno.test("pcap: hand-built ARP and ICMP frames, and a 64 KB frame, read back exactly", () => {
  const path = Deno.makeTempFileSync({ suffix: ".pcap" });
  try {
    const arp = arpRequest();
    const icmp = icmpEchoRequest();
    const big = bigUdp();
    const pcap = PcapWriter.open(path, { chunkBytes: 8192 }); // forces chunk flushes
    const t0 = 1_764_000_000_123.456; // epoch ms with a fraction
    pcap.write(arp, 0, arp.length, t0);
    const padded = new Uint8Array(icmp.length + 10);
    padded.set(icmp, 5);
    pcap.write(padded, 5, icmp.length, t0 + 0.9999); // rounds up to the next microsecond
    pcap.write(big, 0, big.length, t0 + 1000);
    for (let i = 0; i < 200; i++) pcap.write(arp, 0, arp.length, t0 + 2000 + i);
    assert.equal(pcap.frames, 203);
    pcap.close();
    pcap.close(); // idempotent
    assert.throws(() => pcap.write(arp, 0, arp.length, 0), /closed/);

    const file = Deno.readFileSync(path);
    assert.deepEqual(file.subarray(0, 24), encodePcapHeader());
    const records = parsePcap(file);
    assert.equal(records.length, 203);
    assert.deepEqual(records[0], [1_764_000_000, 123_456, 42, 42, arp]);
    assert.deepEqual(records[1].slice(0, 4), [1_764_000_000, 124_456, icmp.length, icmp.length]);
    assert.deepEqual(records[1][4], icmp);
    assert.deepEqual(records[2].slice(0, 4), [1_764_000_001, 123_456, 65014, 65014]);
    assert.deepEqual(records[2][4], big);
    assert.deepEqual(records[202][4], arp);

    if (haveTshark()) {
      const verbose = assertTsharkClean(path, 203);
      assert.match(verbose, /Address Resolution Protocol \(request\)/);
      assert.match(verbose, /Echo \(ping\) request/);
      assert.match(verbose, /Header Checksum: 0x[0-9a-f]{4} \[correct\]/); // IPv4
      assert.match(verbose, /^ {4}Checksum: 0x[0-9a-f]{4} \[correct\]/m); // ICMP
      assert.match(verbose, /User Datagram Protocol, Src Port: 40000, Dst Port: 9/);
    } else {
      console.log("tshark not installed: checked the bytes only");
    }
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("pcap: frames longer than the snaplen are truncated, orig_len kept", () => {
  const chunks: Uint8Array[] = [];
  const sink = {
    writeSync(p: Uint8Array): number {
      const n = Math.min(p.length, 5000); // short writes must be handled
      chunks.push(p.slice(0, n));
      return n;
    },
    close(): void {},
  };
  const pcap = new PcapWriter(sink, { chunkBytes: 4096 });
  const huge = new Uint8Array(PCAP_SNAPLEN + 100).fill(7);
  pcap.write(huge, 0, huge.length, 0);
  pcap.write(huge, 0, 60, 1);
  pcap.close();
  const file = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    file.set(c, at);
    at += c.length;
  }
  const records = parsePcap(file);
  assert.equal(records.length, 2);
  assert.deepEqual(records[0].slice(0, 4), [0, 0, PCAP_SNAPLEN, PCAP_SNAPLEN + 100]);
  assert.deepEqual(records[1].slice(0, 4), [0, 1000, 60, 60]);
});

Deno.test("pcap: PcapDriver records TX and RX of the wrapped driver", () => {
  const path = Deno.makeTempFileSync({ suffix: ".pcap" });
  try {
    const clock = new VirtualClock(500);
    const lo = new LoopbackDriver({ name: "lo-pcap", mtu: 1500 });
    const driver = new PcapDriver(lo, PcapWriter.open(path), { clock, epochMs: 1_700_000_000_000 });
    assert.equal(driver.name, "lo-pcap");
    assert.equal(driver.kind, "loopback");
    assert.equal(driver.mtu, 1500);
    assert.equal(driver.fd, -1);
    assert.equal(driver.stats, lo.stats);
    const arp = arpRequest();
    const icmp = icmpEchoRequest();
    assert(driver.transmit(arp, 0, arp.length, null));
    assert(driver.transmit(icmp, 0, icmp.length, null));
    assert.equal(driver.transmit(new Uint8Array(2000), 0, 2000, null), false); // not recorded
    driver.flush();
    clock.advance(1.5);
    const batch = new RxBatch(8);
    assert.equal(driver.receive(batch, 8), 2);
    driver.release(batch);
    driver.close();
    assert.throws(() => lo.flush(), /closed/); // the inner driver was closed too

    const records = parsePcap(Deno.readFileSync(path));
    assert.equal(records.length, 4);
    assert.deepEqual(records.map((r) => r[4].length), [42, 74, 42, 74]);
    assert.deepEqual(records[0].slice(0, 2), [1_700_000_000, 500_000]);
    assert.deepEqual(records[2].slice(0, 2), [1_700_000_000, 501_500]);
    assert.deepEqual(records[3][4], icmp);
    if (haveTshark()) assertTsharkClean(path, 4);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test({
  name: "pcap: the tshark check catches a bad checksum and a truncated packet",
  ignore: !haveTshark(),
  fn() {
    const path = Deno.makeTempFileSync({ suffix: ".pcap" });
    try {
      const badChecksum = icmpEchoRequest();
      badChecksum[36] ^= 1;
      const truncated = icmpEchoRequest().subarray(0, 40);
      for (const f of [badChecksum, truncated]) {
        const pcap = PcapWriter.open(path);
        pcap.write(f, 0, f.length, 0);
        pcap.close();
        assert.throws(() => assertTsharkClean(path, 1), assert.AssertionError);
      }
    } finally {
      Deno.removeSync(path);
    }
  },
});
