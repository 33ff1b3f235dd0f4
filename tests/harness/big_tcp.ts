/**
 * BIG TCP on a test or benchmark interface: GSO and GRO packets above 64 KB (Linux ≥ 6.3).
 * `ip link set … gso_max_size N gro_max_size N` covers IPv6; IPv4 has its own limits
 * (`IFLA_GSO_IPV4_MAX_SIZE` 63, `IFLA_GRO_IPV4_MAX_SIZE` 64), which this machine's iproute2
 * (6.1) does not know: a few lines of Python send that RTM_NEWLINK request over rtnetlink.
 *
 * @module
 */

import { runCommand } from "./netns.ts";

/** Largest GSO/GRO size veth takes (`tso_max_size` 524,280). */
export const BIG_TCP_MAX_BYTES = 524_280;

/** The RTM_NEWLINK request setting the IPv4 GSO and GRO limits (argv: ifname, bytes). */
const SET_IPV4_LIMITS_PY = `
import socket, struct, sys
ifname, size = sys.argv[1], int(sys.argv[2])
index = socket.if_nametoindex(ifname)
attrs = struct.pack('<HHI', 8, 63, size) + struct.pack('<HHI', 8, 64, size)
body = struct.pack('<BxHiII', 0, 0, index, 0, 0) + attrs
msg = struct.pack('<IHHII', 16 + len(body), 16, 0x1 | 0x4, 1, 0) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0))
s.send(msg)
err = struct.unpack_from('<i', s.recv(4096), 16)[0]
sys.exit(0 if err == 0 else 'rtnetlink error %d' % -err)
`;

/**
 * Set `ifname`'s GSO and GRO size limits, IPv6's and IPv4's, to `bytes` (65,536 is Linux's
 * default, no BIG TCP) in namespace `ns`. Throws when a command fails.
 *
 * @example
 * ```ts ignore
 * await setBigTcp("bench-peer", "kp0", 185_000); // the kernel sender's GSO packets up to 185 KB
 * ```
 */
export async function setBigTcp(ns: string, ifname: string, bytes: number): Promise<void> {
  if (!Number.isInteger(bytes) || bytes < 65_536 || bytes > BIG_TCP_MAX_BYTES) {
    throw new RangeError(`BIG TCP: 65536..${BIG_TCP_MAX_BYTES} bytes, not ${bytes}`);
  }
  const n = String(bytes);
  const cmds = [
    ["ip", "-n", ns, "link", "set", "dev", ifname, "gso_max_size", n, "gro_max_size", n],
    ["ip", "netns", "exec", ns, "python3", "-c", SET_IPV4_LIMITS_PY, ifname, n],
  ];
  for (const cmd of cmds) {
    const r = await runCommand(cmd, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.trim()}`);
  }
}
