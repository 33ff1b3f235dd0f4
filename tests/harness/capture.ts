/**
 * Checks on pcap files with tshark: nothing malformed, every IP/TCP/UDP/ICMP checksum good,
 * and the sizes of the frames one address sent.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCommand } from "./netns.ts";

/** Assert tshark reads `pcap` and flags no malformed packet and no bad checksum. */
export async function assertCleanCapture(pcap: string): Promise<void> {
  const bad = await runCommand([
    "tshark",
    "-r",
    pcap,
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-Y",
    '_ws.malformed || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || ' +
    'udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"',
  ]);
  assert.equal(bad.code, 0, bad.stderr);
  assert.equal(bad.stdout.trim(), "", `tshark flagged:\n${bad.stdout.slice(0, 2000)}`);
}

/** Frame lengths of the TCP segments with payload that `src` sent, as tshark sees them. */
export async function tcpFrameSizes(pcap: string, src: string): Promise<number[]> {
  const r = await runCommand([
    "tshark",
    "-r",
    pcap,
    "-Y",
    `ip.src == ${src} && tcp.len > 0`,
    "-T",
    "fields",
    "-e",
    "frame.len",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((l) => l !== "").map(Number);
}
