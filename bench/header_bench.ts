/**
 * Header view micro benchmarks: the per-packet parse (Ethernet → IPv4 → TCP + options, with
 * checks and checksums) and build paths, with one reused view object per layer.
 *
 * Run: `deno bench bench/header_bench.ts`
 *
 * @module
 */

import { ETH_HEADER_BYTES, EthernetHeader, ETHERTYPE_IPV4 } from "../link/ethernet.ts";
import { IP_PROTO_TCP, Ipv4Header, Ipv4Repr } from "../net/ipv4_header.ts";
import { pseudoHeaderSumV4 } from "../net/checksum.ts";
import { TCP_FLAG_ACK, TcpHeader, writeTcpHeader } from "../transport/tcp/header.ts";
import { parseTcpOptions, TcpHeaderOptions, writeTcpOptions } from "../transport/tcp/options.ts";
import { UdpHeader, writeUdpHeader } from "../transport/udp_header.ts";

const SRC = 0xc6120001;
const DST = 0xc6120002;
const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 2]);

const eth = new EthernetHeader();
const ip = new Ipv4Header();
const tcp = new TcpHeader();
const udp = new UdpHeader();
const opts = new TcpHeaderOptions();
opts.hasTimestamps = true;
opts.tsVal = 123456;
opts.tsEcr = 654321;

/** The IPv4 header record the frames are built with. */
const ipRepr = new Ipv4Repr();
ipRepr.id = 7;
ipRepr.dontFragment = true;
ipRepr.protocol = IP_PROTO_TCP;
ipRepr.src = SRC;
ipRepr.dst = DST;

/** Build one Ethernet/IPv4/TCP frame (timestamps option) with `payload` bytes into `buf`. */
function buildTcpFrame(buf: Uint8Array, payload: number): number {
  const tcpOff = ETH_HEADER_BYTES + 20;
  const optBytes = writeTcpOptions(buf, tcpOff + 20, opts, false);
  const segBytes = 20 + optBytes + payload;
  writeTcpHeader(buf, tcpOff, 40000, 80, 1, 2, 20 + optBytes, TCP_FLAG_ACK, 512);
  tcp.attach(buf, tcpOff, segBytes).fillChecksum(
    pseudoHeaderSumV4(SRC, DST, IP_PROTO_TCP, segBytes),
  );
  ipRepr.totalLength = 20 + segBytes;
  ipRepr.emit(buf, ETH_HEADER_BYTES);
  eth.attach(buf, 0, ETH_HEADER_BYTES);
  eth.setDst(MAC_B);
  eth.setSrc(MAC_A);
  eth.etherType = ETHERTYPE_IPV4;
  return ETH_HEADER_BYTES + 20 + segBytes;
}

const memory = new Uint8Array(1 << 16);
const ack = memory.subarray(0, 2048);
const ackLen = buildTcpFrame(ack, 0);
const data = memory.subarray(2048, 4096);
const dataLen = buildTcpFrame(data, 1448);
const jumbo = memory.subarray(8192, 8192 + 9100);
const jumboLen = buildTcpFrame(jumbo, 8948);

let sink = 0;

/** The receive path for one frame; returns a drop reason or null. */
function receive(frame: Uint8Array, len: number): string | null {
  const e = eth.attach(frame, 0, len).check();
  if (e !== null) return e;
  if (eth.etherType !== ETHERTYPE_IPV4) return "InUnknownEtherType";
  const r = ip.attach(frame, ETH_HEADER_BYTES, len - ETH_HEADER_BYTES).check();
  if (r !== null) return r;
  if (ip.protocol !== IP_PROTO_TCP) return "InUnknownProtos";
  const segBytes = ip.payloadLength;
  const t = tcp.attach(frame, ip.payloadOffset, segBytes).check();
  if (t !== null) return t;
  if (!tcp.verifyChecksum(pseudoHeaderSumV4(ip.src, ip.dst, IP_PROTO_TCP, segBytes))) {
    return "InCsumErrors";
  }
  const o = parseTcpOptions(frame, tcp.optionsOffset, tcp.optionsLength, opts);
  if (o !== null) return o;
  sink ^= tcp.seq ^ tcp.ack ^ tcp.window ^ opts.tsVal;
  return null;
}

Deno.bench({
  name: "rx: pure ACK (eth+ip+tcp+opts, all checks and checksums)",
  group: "rx",
  baseline: true,
  fn: () => {
    if (receive(ack, ackLen) !== null) throw new Error("drop");
  },
});
Deno.bench({
  name: "rx: 1448-byte data segment",
  group: "rx",
  fn: () => {
    if (receive(data, dataLen) !== null) throw new Error("drop");
  },
});
Deno.bench({
  name: "rx: 8948-byte data segment",
  group: "rx",
  fn: () => {
    if (receive(jumbo, jumboLen) !== null) throw new Error("drop");
  },
});
Deno.bench({
  name: "rx: header fields only (no checksums)",
  group: "rx",
  fn: () => {
    ip.attach(data, ETH_HEADER_BYTES, dataLen - ETH_HEADER_BYTES);
    if (ip.check(false) !== null) throw new Error("drop");
    tcp.attach(data, ip.payloadOffset, ip.payloadLength);
    if (tcp.check() !== null) throw new Error("drop");
    sink ^= tcp.seq ^ tcp.ack ^ tcp.flags ^ tcp.window ^ ip.src ^ ip.dst;
  },
});

const out = new Uint8Array(2048);
Deno.bench({
  name: "tx: build pure ACK (eth+ip+tcp+ts, checksums)",
  group: "tx",
  baseline: true,
  fn: () => {
    sink ^= buildTcpFrame(out, 0);
  },
});
Deno.bench({
  name: "tx: Ipv4Repr.emit (checksum from fields)",
  group: "tx",
  fn: () => {
    ipRepr.totalLength = 1500;
    sink ^= ipRepr.emit(out, 14);
  },
});
Deno.bench({
  name: "tx: Ipv4Header init + setters + fillChecksum",
  group: "tx",
  fn: () => {
    ip.attach(out, 14, 20).init(20);
    ip.totalLength = 1500;
    ip.id = 7;
    ip.dontFragment = true;
    ip.ttl = 64;
    ip.protocol = IP_PROTO_TCP;
    ip.src = SRC;
    ip.dst = DST;
    ip.fillChecksum();
  },
});
Deno.bench({
  name: "tx: UDP header + checksum, 64-byte payload",
  group: "tx",
  fn: () => {
    writeUdpHeader(out, 34, 5000, 6000, 72);
    udp.attach(out, 34, 72).fillChecksum(pseudoHeaderSumV4(SRC, DST, 17, 72));
  },
});

const synOpts = new TcpHeaderOptions();
synOpts.mss = 1460;
synOpts.windowScale = 7;
synOpts.sackPermitted = true;
synOpts.hasTimestamps = true;
const optBuf = new Uint8Array(40);
const synOptLen = writeTcpOptions(optBuf, 0, synOpts, true);
Deno.bench({
  name: "options: parse SYN options (mss, sackOK, ts, wscale)",
  group: "options",
  fn: () => {
    if (parseTcpOptions(optBuf, 0, synOptLen, opts) !== null) throw new Error("bad");
  },
});
Deno.bench({
  name: "options: write SYN options",
  group: "options",
  fn: () => {
    sink ^= writeTcpOptions(out, 100, synOpts, true);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results alive
});
