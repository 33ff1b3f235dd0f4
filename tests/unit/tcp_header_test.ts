import assert from "node:assert/strict";
import {
  TCP_DROP_CSUM_ERRORS,
  TCP_DROP_ERRORS,
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
  TCP_HEADER_MIN_BYTES,
  TcpHeader,
  writeTcpHeader,
} from "../../transport/tcp/header.ts";
import {
  parseTcpOptions,
  TCP_OPTIONS_DROP_ERRORS,
  TcpHeaderOptions,
  tcpOptionsLength,
  writeTcpOptions,
} from "../../transport/tcp/options.ts";
import { IP_PROTO_TCP, Ipv4Header } from "../../net/ipv4_header.ts";
import { pseudoHeaderSumV4 } from "../../net/checksum.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array((s.replace(/\s+/g, "").match(/../g) ?? []).map((h) => parseInt(h, 16)));
}

// 198.18.0.1:40000 → 198.18.0.2:80 SYN, seq 0x01020304, window 64240,
// options "mss 1460,sackOK,TS val 0x11223344 ecr 0,nop,wscale 7" (Linux's layout).
const SYN_OPTIONS = "020405b4 0402080a 11223344 00000000 01030307";
const SYN = hex(
  "4500003c1c4640004006924ec6120001c6120002" +
    "9c40 0050 01020304 00000000 a002 faf0 dbea 0000" + SYN_OPTIONS,
);

Deno.test("tcp header: constants", () => {
  assert.deepEqual(
    [
      TCP_FLAG_FIN,
      TCP_FLAG_SYN,
      TCP_FLAG_RST,
      TCP_FLAG_PSH,
      TCP_FLAG_ACK,
      TCP_FLAG_URG,
      TCP_FLAG_ECE,
      TCP_FLAG_CWR,
    ],
    [1, 2, 4, 8, 16, 32, 64, 128],
  );
  assert.deepEqual([TCP_DROP_ERRORS, TCP_DROP_CSUM_ERRORS], ["InErrs", "InCsumErrors"]);
  assert.equal(TCP_OPTIONS_DROP_ERRORS, "InErrs");
});

Deno.test("tcp header: parse a known SYN", () => {
  const ip = new Ipv4Header().attach(SYN, 0, SYN.length);
  assert.equal(ip.check(), null);
  const tcp = new TcpHeader().attach(SYN, ip.payloadOffset, ip.payloadLength);
  assert.equal(tcp.check(), null);
  assert.equal(tcp.srcPort, 40000);
  assert.equal(tcp.dstPort, 80);
  assert.equal(tcp.seq, 0x01020304);
  assert.equal(tcp.ack, 0);
  assert.equal(tcp.dataOffset, 10);
  assert.equal(tcp.headerBytes, 40);
  assert.equal(tcp.flags, TCP_FLAG_SYN);
  assert.ok(tcp.hasFlags(TCP_FLAG_SYN));
  assert.ok(!tcp.hasFlags(TCP_FLAG_SYN | TCP_FLAG_ACK));
  assert.equal(tcp.window, 64240);
  assert.equal(tcp.checksum, 0xdbea);
  assert.equal(tcp.urgentPointer, 0);
  assert.equal(tcp.optionsOffset, 40);
  assert.equal(tcp.optionsLength, 20);
  assert.equal(tcp.payloadOffset, 60);
  assert.equal(tcp.payloadLength, 0);
  const ph = pseudoHeaderSumV4(ip.src, ip.dst, IP_PROTO_TCP, tcp.len);
  assert.ok(tcp.verifyChecksum(ph));
  assert.equal(tcp.computeChecksum(ph), 0xdbea);
  assert.ok(!tcp.verifyChecksum(pseudoHeaderSumV4(ip.src, ip.dst + 1, IP_PROTO_TCP, tcp.len)));

  const opts = new TcpHeaderOptions();
  assert.equal(parseTcpOptions(SYN, tcp.optionsOffset, tcp.optionsLength, opts), null);
  assert.equal(opts.mss, 1460);
  assert.ok(opts.sackPermitted);
  assert.ok(opts.hasTimestamps);
  assert.equal(opts.tsVal, 0x11223344);
  assert.equal(opts.tsEcr, 0);
  assert.equal(opts.windowScale, 7);
  assert.equal(opts.sackBlockCount, 0);
});

Deno.test("tcp header: build the SYN with writers, byte for byte", () => {
  const b = new Uint8Array(60);
  const opts = new TcpHeaderOptions();
  opts.mss = 1460;
  opts.sackPermitted = true;
  opts.hasTimestamps = true;
  opts.tsVal = 0x11223344;
  opts.windowScale = 7;
  const optBytes = writeTcpOptions(b, 40, opts, true);
  assert.equal(optBytes, 20);
  assert.equal(tcpOptionsLength(opts, true), 20);
  const n = writeTcpHeader(b, 20, 40000, 80, 0x01020304, 0, 20 + optBytes, TCP_FLAG_SYN, 64240);
  assert.equal(n, TCP_HEADER_MIN_BYTES);
  const tcp = new TcpHeader().attach(b, 20, 40);
  tcp.fillChecksum(pseudoHeaderSumV4(0xc6120001, 0xc6120002, IP_PROTO_TCP, 40));
  assert.deepEqual(b.subarray(20), SYN.subarray(20));

  // And with init() + setters.
  const c = new Uint8Array(40);
  const t = new TcpHeader().attach(c, 0, 40).init(40);
  t.srcPort = 40000;
  t.dstPort = 80;
  t.seq = 0x01020304;
  t.ack = 0;
  t.flags = TCP_FLAG_SYN;
  t.window = 64240;
  writeTcpOptions(c, t.optionsOffset, opts, true);
  t.fillChecksum(pseudoHeaderSumV4(0xc6120001, 0xc6120002, IP_PROTO_TCP, 40));
  assert.deepEqual(c, SYN.subarray(20));
});

Deno.test("tcp header: setters round-trip and keep neighbours", () => {
  const b = new Uint8Array(64);
  const t = new TcpHeader().attach(b, 4, 60).init(60);
  assert.equal(t.dataOffset, 15);
  b[4 + 12] |= 0x01; // AE / former NS bit (reserved nibble)
  t.dataOffset = 5;
  assert.equal(b[4 + 12], 0x51);
  t.headerBytes = 24;
  assert.equal(t.dataOffset, 6);
  assert.equal(b[4 + 12] & 0x0f, 0x01);
  t.seq = 0xffffffff;
  t.ack = 0x80000000;
  t.srcPort = 65535;
  t.dstPort = 1;
  t.flags = TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN;
  t.window = 0xfedc;
  t.checksum = 0x1234;
  t.urgentPointer = 0x8001;
  assert.deepEqual(
    [t.seq, t.ack, t.srcPort, t.dstPort, t.flags, t.window, t.checksum, t.urgentPointer],
    [0xffffffff, 0x80000000, 65535, 1, 0x19, 0xfedc, 0x1234, 0x8001],
  );
  assert.ok(t.hasFlags(TCP_FLAG_ACK | TCP_FLAG_FIN));
  assert.equal(t.payloadOffset, 4 + 24);
  assert.equal(t.payloadLength, 60 - 24);
  assert.equal(t.optionsLength, 4);
});

Deno.test("tcp header: checksum with payload of odd length, at odd buffer offsets", () => {
  const rand = crypto.getRandomValues(new Uint8Array(3000));
  for (const payload of [0, 1, 2, 3, 100, 1001, 1460, 2919]) {
    for (const at of [0, 1, 2, 3]) {
      const len = 20 + payload;
      const b = new Uint8Array(at + len);
      b.set(rand.subarray(0, len), at);
      writeTcpHeader(b, at, 1, 2, 3, 4, 20, TCP_FLAG_ACK, 5);
      const t = new TcpHeader().attach(b, at, len);
      const ph = pseudoHeaderSumV4(0xc6120001, 0xc6120002, IP_PROTO_TCP, len);
      t.checksum = 0xffff; // garbage in the field must not matter to compute/fill
      t.fillChecksum(ph);
      assert.ok(t.verifyChecksum(ph), `${payload} ${at}`);
      if (payload > 0) {
        b[at + len - 1] ^= 1;
        assert.ok(!t.verifyChecksum(ph));
      }
    }
  }
});

Deno.test("tcp header: check() drop paths", () => {
  const t = new TcpHeader();
  const seg = SYN.slice(20);
  for (let len = 0; len < 20; len++) assert.equal(t.attach(seg, 0, len).check(), TCP_DROP_ERRORS);
  for (let doff = 0; doff < 5; doff++) {
    const b = seg.slice();
    b[12] = doff << 4;
    assert.equal(t.attach(b, 0, b.length).check(), TCP_DROP_ERRORS, `doff ${doff}`);
  }
  assert.equal(t.attach(seg, 0, 39).check(), TCP_DROP_ERRORS); // options cut off
  assert.equal(t.attach(seg, 0, 40).check(), null);
  const full = seg.slice();
  full[12] = 0xf0;
  assert.equal(t.attach(full, 0, 40).check(), TCP_DROP_ERRORS); // 60-byte header, 40 bytes
  assert.equal(t.attach(new Uint8Array(60).fill(0xf0), 0, 60).check(), null);
});

Deno.test("tcp options: Linux layouts for SYN and data segments", () => {
  const b = new Uint8Array(40);
  const o = new TcpHeaderOptions();
  const emit = (isSyn: boolean) => {
    b.fill(0xee);
    const n = writeTcpOptions(b, 0, o, isSyn);
    assert.equal(n, tcpOptionsLength(o, isSyn));
    assert.equal(n % 4, 0);
    return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, "0")).join("");
  };
  o.mss = 1460;
  o.sackPermitted = true;
  o.windowScale = 7;
  assert.equal(emit(true), "020405b4" + "01010402" + "01030307");
  o.hasTimestamps = true;
  o.tsVal = 1;
  o.tsEcr = 2;
  assert.equal(emit(true), "020405b4" + "0402080a0000000100000002" + "01030307");
  o.sackPermitted = false;
  assert.equal(emit(true), "020405b4" + "0101080a0000000100000002" + "01030307");
  o.windowScale = 20; // clamped to 14 (RFC 7323 §2.3)
  assert.equal(emit(true), "020405b4" + "0101080a0000000100000002" + "0103030e");
  o.windowScale = -1;
  o.mss = 0;
  assert.equal(emit(true), "0101080a0000000100000002");
  // Not a SYN: MSS / window scale / SACK-permitted are never written.
  o.mss = 1460;
  o.windowScale = 7;
  o.sackPermitted = true;
  assert.equal(emit(false), "0101080a0000000100000002");
  o.sackBlocks.set([10, 20, 30, 40, 50, 60, 70, 80]);
  o.sackBlockCount = 2;
  assert.equal(
    emit(false),
    "0101080a0000000100000002" + "01010512" + "0000000a00000014" + "0000001e00000028",
  );
  o.sackBlockCount = 4; // only 3 fit beside timestamps
  assert.equal(emit(false).length, 80);
  assert.equal(b[15], 2 + 3 * 8);
  o.hasTimestamps = false;
  assert.equal(emit(false).length, 72); // 4 + 4 × 8
  assert.equal(b[3], 2 + 4 * 8);
  // SACK blocks are not written on SYNs; an empty record writes nothing.
  assert.equal(emit(true), "020405b4" + "01010402" + "01030307");
  o.clear();
  assert.equal(emit(true), "");
  assert.equal(emit(false), "");
});

Deno.test("tcp options: write → parse round trip over every combination", () => {
  const b = new Uint8Array(40);
  const o = new TcpHeaderOptions();
  const p = new TcpHeaderOptions();
  for (let mask = 0; mask < 64; mask++) {
    for (const isSyn of [true, false]) {
      o.clear();
      if (mask & 1) o.mss = 536 + mask;
      if (mask & 2) o.windowScale = mask % 15;
      o.sackPermitted = (mask & 4) !== 0;
      if (mask & 8) {
        o.hasTimestamps = true;
        o.tsVal = 0xdeadbeef;
        o.tsEcr = mask;
      }
      o.sackBlockCount = (mask >>> 4) + ((mask & 32) ? 1 : 0); // 0..4
      for (let k = 0; k < 8; k++) o.sackBlocks[k] = 0xfffffff0 + k;
      const n = writeTcpOptions(b, 0, o, isSyn);
      assert.ok(n <= 40 && n % 4 === 0);
      assert.equal(parseTcpOptions(b, 0, n, p), null);
      assert.equal(p.mss, isSyn ? o.mss : 0);
      assert.equal(p.windowScale, isSyn ? o.windowScale : -1);
      assert.equal(p.sackPermitted, isSyn && o.sackPermitted);
      assert.equal(p.hasTimestamps, o.hasTimestamps);
      if (o.hasTimestamps) assert.deepEqual([p.tsVal, p.tsEcr], [o.tsVal, o.tsEcr]);
      const blocks = isSyn ? 0 : Math.min(o.sackBlockCount, o.hasTimestamps ? 3 : 4);
      assert.equal(p.sackBlockCount, blocks);
      for (let k = 0; k < 2 * blocks; k++) assert.equal(p.sackBlocks[k], o.sackBlocks[k]);
    }
  }
});

Deno.test("tcp options: tolerated oddities", () => {
  const o = new TcpHeaderOptions();
  const parse = (s: string) => {
    const b = hex(s);
    return parseTcpOptions(b, 0, b.length, o);
  };
  // Empty, NOPs only, EOL then garbage (ignored).
  assert.equal(parse(""), null);
  assert.equal(parse("01010101"), null);
  assert.equal(parse("00 ff 00 02 04"), null);
  assert.equal(o.mss, 0);
  // Unknown kinds are skipped by length (e.g. 30 = MPTCP, 34 = TFO cookie, 254 = experimental).
  assert.equal(parse("1e04aabb 220a0102030405060708 fe02 020405b4"), null);
  assert.equal(o.mss, 1460);
  // Known kinds with a wrong length are skipped; what follows is still read.
  assert.equal(
    parse("020305 0302 0403aa 0409aabbccddeeff00 0804aaaa 0506aaaaaaaa 020401f4"),
    null,
  );
  assert.equal(o.mss, 500);
  assert.equal(o.windowScale, -1);
  assert.ok(!o.sackPermitted);
  assert.ok(!o.hasTimestamps);
  assert.equal(o.sackBlockCount, 0);
  // A SACK whose body is not a multiple of 8 is skipped.
  assert.equal(parse("050b 0000000100000002 000000"), null);
  assert.equal(o.sackBlockCount, 0);
  // MSS 0 reads as absent; window shift above 14 reads as 14.
  assert.equal(parse("02040000 030315"), null);
  assert.equal(o.mss, 0);
  assert.equal(o.windowScale, 14);
  // A SACK longer than 4 blocks (only possible in a range longer than 40 bytes) keeps 4.
  let s = "052a";
  for (let k = 0; k < 10; k++) s += k.toString(16).padStart(8, "0");
  assert.equal(parse(s), null);
  assert.equal(o.sackBlockCount, 4);
  assert.deepEqual([...o.sackBlocks], [0, 1, 2, 3, 4, 5, 6, 7]);
  // A later parse clears the record first.
  assert.equal(parse("01"), null);
  assert.deepEqual(
    [o.mss, o.windowScale, o.sackPermitted, o.hasTimestamps, o.tsVal, o.tsEcr, o.sackBlockCount],
    [0, -1, false, false, 0, 0, 0],
  );
});

Deno.test("tcp options: structurally broken lists (drop reason, earlier options kept)", () => {
  const o = new TcpHeaderOptions();
  const parse = (s: string, len?: number) => {
    const b = hex(s);
    return parseTcpOptions(b, 0, len ?? b.length, o);
  };
  for (
    const broken of [
      "0200", // zero length
      "0201", // length 1
      "020405b4 0800", // zero length after a good MSS
      "02", // kind without a length byte
      "020405b4 08", // ditto, at the end
      "0205 05b4", // overlong: 5 bytes claimed, 4 present
      "080a 11223344", // timestamps cut short
      "fe28", // unknown kind claiming 40 bytes
    ]
  ) {
    assert.equal(parse(broken), TCP_OPTIONS_DROP_ERRORS, broken);
  }
  assert.equal(parse("020405b4 0800"), TCP_OPTIONS_DROP_ERRORS);
  assert.equal(o.mss, 1460); // parsed before the break
  // The range limit counts, not the buffer: a good MSS cut by len.
  assert.equal(parse("020405b4", 3), TCP_OPTIONS_DROP_ERRORS);
  // A range past the end of the buffer is clamped, never read as undefined.
  const b = hex("020405b4");
  assert.equal(parseTcpOptions(b, 0, 40, o), null);
  assert.equal(parseTcpOptions(b, 2, 40, o), TCP_OPTIONS_DROP_ERRORS);
});

Deno.test("tcp header and options: random bytes never throw", () => {
  const t = new TcpHeader();
  const o = new TcpHeaderOptions();
  const buf = new Uint8Array(80);
  let parsed = 0;
  for (let i = 0; i < 20000; i++) {
    crypto.getRandomValues(buf);
    if (i & 1) {
      for (let k = 20; k < 60; k++) if (buf[k] > 10 && buf[k] !== 254) buf[k] &= 0x0f; // sane-ish kinds
    }
    const off = i % 4;
    if (t.attach(buf, off, (i * 11) % (81 - off)).check() === null) {
      assert.ok(t.headerBytes >= 20 && t.headerBytes <= t.len);
      const r = parseTcpOptions(buf, t.optionsOffset, t.optionsLength, o);
      if (r === null) parsed++;
      assert.ok(o.sackBlockCount >= 0 && o.sackBlockCount <= 4);
      assert.ok(o.windowScale >= -1 && o.windowScale <= 14);
      assert.ok(o.mss >= 0 && o.mss <= 65535);
      const n = writeTcpOptions(new Uint8Array(40), 0, o, (i & 2) !== 0);
      assert.ok(n <= 40 && n % 4 === 0);
    }
    void [t.seq, t.ack, t.flags, t.window, t.payloadLength, t.payloadOffset];
  }
  assert.ok(parsed > 0);
});
