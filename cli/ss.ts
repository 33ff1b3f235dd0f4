/**
 * `ustack ss --control PATH`: the sockets of a running `ustack serve --control PATH`, listed
 * like `ss -tuna` (Netid, State, Recv-Q, Send-Q, local and peer address:port); `-i` adds the
 * TCP_INFO line `ss -i` prints under each connection, `--json` one object with every field.
 *
 * @module
 */

import { queryControl, type SocketEntry } from "../mod.ts";
import { parseStrict, UsageError } from "./args.ts";
import { emit } from "./output.ts";

/** Usage of `ss`. */
export const SS_USAGE = `usage: ustack ss --control PATH [-t] [-u] [-l] [-i] [--json]
Sockets of a running 'ustack serve --control PATH', as 'ss -tuna' shows the kernel's.
  --control PATH   the serve process's control socket
  -t, --tcp        TCP only          -u, --udp     UDP only
  -l, --listening  listening sockets only
  -i, --info       TCP_INFO under each TCP connection (rtt, cwnd, retransmits, …)
  --json           {"sockets":[…]} with every field`;

/**
 * The `ss -i` line of a connection.
 *
 * @example
 * ```ts ignore
 * infoLine(entry.info!); // " cubic ts sack wscale:7,7 rto:204 rtt:0.1/0.05 mss:1448 cwnd:10 …"
 * ```
 */
export function infoLine(i: NonNullable<SocketEntry["info"]>): string {
  const parts = [i.congestionControl];
  if (i.timestamps) parts.push("ts");
  if (i.sack) parts.push("sack");
  if (i.ecn) parts.push("ecn");
  if (i.sndWscale >= 0 && i.rcvWscale >= 0) parts.push(`wscale:${i.sndWscale},${i.rcvWscale}`);
  parts.push(
    `rto:${Math.round(i.rtoMs)}`,
    `rtt:${i.srttMs.toFixed(3)}/${i.rttvarMs.toFixed(3)}`,
    `mss:${i.mss}`,
    `rcvmss:${i.rcvMss}`,
    `cwnd:${Math.max(1, Math.round(i.cwnd / Math.max(1, i.mss)))}`,
  );
  if (i.ssthresh < 2 ** 30) parts.push(`ssthresh:${Math.round(i.ssthresh / Math.max(1, i.mss))}`);
  const segs = (bytes: number) => Math.round(bytes / Math.max(1, i.mss));
  parts.push(
    `bytes_acked:${i.bytesAcked}`,
    `bytes_received:${i.bytesReceived}`,
    `retrans:${segs(i.retransBytes)}/${i.retransmits}`,
  );
  if (i.lostBytes > 0) parts.push(`lost:${segs(i.lostBytes)}`);
  if (i.sackedBytes > 0) parts.push(`sacked:${segs(i.sackedBytes)}`);
  if (i.reorderingSeen) parts.push(`reord_seen`);
  parts.push(`backoff:${i.backoff}`);
  if (i.pacingRate > 0) parts.push(`pacing_rate ${i.pacingRate * 8}bps`);
  if (i.deliveryRate > 0) {
    parts.push(
      `delivery_rate ${i.deliveryRate * 8}bps${i.deliveryRateAppLimited ? " (app_limited)" : ""}`,
    );
  }
  parts.push(`delivered:${segs(i.delivered)}`);
  if (i.minRttMs > 0) parts.push(`minrtt:${i.minRttMs.toFixed(3)}`);
  parts.push(`snd_wnd:${i.sndWnd}`, `rcv_wnd:${i.rcvWnd}`, `ca:${i.caState}`);
  return ` ${parts.join(" ")}`;
}

/** `addr:port` as ss prints it: IPv6 in brackets, port 0 as `*`. */
function hostPort(addr: string, port: number): string {
  return `${addr.includes(":") ? `[${addr}]` : addr}:${port === 0 ? "*" : port}`;
}

/**
 * `ss -tuna`'s table for `sockets`.
 *
 * @example
 * ```ts ignore
 * for (const line of formatSs(sockets, false)) console.log(line);
 * ```
 */
export function formatSs(sockets: SocketEntry[], info: boolean): string[] {
  const rows = sockets.map((s) => [
    s.netid,
    s.state,
    String(s.recvQ),
    String(s.sendQ),
    hostPort(s.localAddress, s.localPort),
    hostPort(s.peerAddress, s.peerPort),
  ]);
  const head = ["Netid", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"];
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    [
      r[0].padEnd(w[0]),
      r[1].padEnd(w[1]),
      r[2].padEnd(w[2]),
      r[3].padEnd(w[3]),
      r[4].padStart(w[4]),
      r[5].padStart(w[5]),
    ].join(" ");
  const out = [line(head).trimEnd()];
  rows.forEach((r, k) => {
    out.push(line(r));
    const i = sockets[k].info;
    if (info && i !== undefined) out.push(`\t${infoLine(i)}`);
  });
  return out;
}

/** Run `ss` with `args`; resolves to the exit status. */
export async function ssCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, {
    control: { type: "string" },
    tcp: { type: "boolean", short: "t" },
    udp: { type: "boolean", short: "u" },
    listening: { type: "boolean", short: "l" },
    info: { type: "boolean", short: "i" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    emit(SS_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (typeof values.control !== "string") throw new UsageError("--control PATH is required");
  const reply = await queryControl(values.control, { cmd: "sockets" });
  const bothOrNeither = values.tcp === values.udp;
  const sockets = (reply.sockets as SocketEntry[]).filter((s) =>
    (bothOrNeither || (s.netid === "tcp" ? values.tcp : values.udp)) &&
    (values.listening !== true || s.state === "LISTEN" || s.state === "UNCONN")
  );
  if (values.json === true) emit(JSON.stringify({ sockets }));
  else for (const line of formatSs(sockets, values.info === true)) emit(line);
  return 0;
}
