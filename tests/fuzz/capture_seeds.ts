/**
 * Make the fuzzer's seed corpus, `corpus/seeds.pcap`, from real traffic: `ustack serve`
 * records (`--pcap`) a session with the Linux kernel on a veth pair — ARP, ping (plain,
 * fragmented, with the record-route and timestamp IP options), UDP echo (small, fragmented,
 * with IP options, to a closed port), TCP (HTTP downloads with the kernel's SYN options —
 * MSS, SACK-permitted, timestamps, window scale — SACK blocks under loss, a refused
 * connection, an echo session closed with FIN). Offloads are off, so frames are wire-sized
 * with complete checksums.
 *
 * The frames are then normalized (the veth MACs become the fuzzer's fixed ones), frames of
 * the same shape are thinned to a few, and the result is written. Run as root:
 *
 * ```sh
 * deno run --allow-all tests/fuzz/capture_seeds.ts
 * ```
 *
 * @module
 */

import { PcapWriter } from "../../link/pcap_writer.ts";
import { withVethPair } from "../harness/netns.ts";
import { startServe } from "../harness/ustack_cli.ts";
import { readPcapFrames, SEEDS_PCAP } from "./corpus.ts";
import { ETH, ETHERTYPE_ARP, get16, PEER_MAC, STACK_MAC } from "./frames.ts";

/** Kernel-side traffic, run in the peer namespace. */
function kernelTraffic(stack: string): string[][] {
  const udp = (len: number, port: number, options = "") =>
    `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(1)\n` +
    (options ? `s.setsockopt(socket.IPPROTO_IP,socket.IP_OPTIONS,${options})\n` : "") +
    `s.sendto(bytes(i%256 for i in range(${len})),("${stack}",${port}))\n` +
    `try:\n s.recv(65535)\nexcept Exception:\n pass\n`;
  return [
    ["ping", "-c", "2", "-i", "0.2", "-W", "1", stack],
    ["ping", "-c", "1", "-W", "1", "-s", "3000", stack],
    ["ping", "-c", "1", "-W", "1", "-R", stack],
    ["ping", "-c", "1", "-W", "1", "-T", "tsonly", stack],
    ["python3", "-c", udp(100, 7)],
    ["python3", "-c", udp(4000, 7)],
    ["python3", "-c", udp(64, 7, "b'\\x07\\x0b\\x04' + bytes(8) + b'\\x01'")], // record route
    ["python3", "-c", udp(64, 7, "b'\\x94\\x04\\x00\\x00'")], // router alert
    ["python3", "-c", udp(10, 9)],
    ["curl", "-sS", "-m", "10", "-o", "/dev/null", `http://${stack}/bytes/200000`],
    ["curl", "-sS", "-m", "10", "-o", "/dev/null", `http://${stack}/`],
    ["curl", "-sS", "-m", "5", "-o", "/dev/null", `http://${stack}:81/`],
    ["sh", "-c", `printf 'hello\\n' | socat -t 1 - TCP:${stack}:7`],
  ];
}

/** A frame's shape: frames of one shape are thinned to a few. */
function shape(f: Uint8Array): string {
  if (f.length < ETH) return "runt";
  const type = get16(f, 12);
  if (type !== 0x0800 || f.length < ETH + 20) return `eth${type}:${f.length}`;
  const hb = (f[ETH] & 15) * 4;
  const proto = f[ETH + 9];
  const frag = get16(f, ETH + 6) & 0x3fff;
  const l4 = ETH + hb;
  let detail = "";
  if (proto === 6 && f.length >= l4 + 14) detail = `f${f[l4 + 13]}o${f[l4 + 12] >> 4}`;
  if (proto === 1 && f.length > l4) detail = `t${f[l4]}`;
  const size = f.length > 1000 ? "big" : f.length > 100 ? "mid" : "small";
  return `ip${hb}:${proto}:${frag === 0 ? "" : "frag"}:${detail}:${size}`;
}

/** Replace the veth MACs by the fuzzer's fixed ones (Ethernet header and ARP fields). */
function normalize(f: Uint8Array, stackMac: Uint8Array, peerMac: Uint8Array): Uint8Array {
  const out = f.slice();
  const swap = (at: number) => {
    if (at + 6 > out.length) return;
    const is = (mac: Uint8Array) => mac.every((b, i) => out[at + i] === b);
    if (is(stackMac)) out.set(STACK_MAC, at);
    else if (is(peerMac)) out.set(PEER_MAC, at);
  };
  swap(0);
  swap(6);
  if (out.length >= ETH + 28 && get16(out, 12) === ETHERTYPE_ARP) {
    swap(ETH + 8);
    swap(ETH + 18);
  }
  return out;
}

async function main(): Promise<void> {
  const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
  let stackMac: Uint8Array = new Uint8Array(6);
  let peerMac: Uint8Array = new Uint8Array(6);
  try {
    await withVethPair({}, async (pair) => {
      stackMac = pair.stackMac;
      peerMac = pair.peerMac;
      // 3 % loss on what the kernel receives makes it send SACK blocks.
      const nft = await pair.run(["nft", "-f", "-"], {
        stdin: `table inet loss {
  chain in { type filter hook input priority 0; tcp sport 80 numgen random mod 100 < 3 drop; }
}\n`,
      });
      if (nft.code !== 0) throw new Error(nft.stderr);
      const serve = await startServe(pair, [
        "--no-offload",
        "--udp-echo",
        "7",
        "--tcp-echo",
        "7",
        "--http",
        "80",
        "--pcap",
        pcap,
      ]);
      try {
        for (const cmd of kernelTraffic(pair.stackAddr)) {
          const r = await pair.run(cmd, { timeoutMs: 20_000 });
          console.log(`${cmd[0]} … exit ${r.code}`);
        }
      } finally {
        await serve.stop();
      }
    });
    const frames = readPcapFrames(await Deno.readFile(pcap));
    const perShape = new Map<string, number>();
    const keep: Uint8Array[] = [];
    for (const f of frames) {
      if (f.length > 1514) continue;
      const s = shape(f);
      const n = perShape.get(s) ?? 0;
      if (n >= 3) continue;
      perShape.set(s, n + 1);
      keep.push(normalize(f, stackMac, peerMac));
    }
    const w = PcapWriter.open(SEEDS_PCAP);
    keep.forEach((f, i) => w.write(f, 0, f.length, i));
    w.close();
    console.log(`${frames.length} frames captured, ${keep.length} kept in ${SEEDS_PCAP.pathname}`);
  } finally {
    await Deno.remove(pcap).catch(() => {});
  }
}

if (import.meta.main) await main();
