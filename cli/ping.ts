/**
 * `ustack ping HOST`: ICMP or ICMPv6 echo from the user-space stack, with ping(8)-style
 * output. HOST is an IPv4 or IPv6 address; a link-local IPv6 one may name its interface
 * (`fe80::1%us0`).
 *
 * @module
 */

import {
  type IpAddr,
  type IpAddress,
  IpAddressScratch,
  ipEquals,
  Runtime,
  tryParseIp,
} from "../mod.ts";
import {
  LINK_OPTIONS,
  LINK_USAGE,
  linkConfig,
  numberFlag,
  parseStrict,
  UsageError,
} from "./args.ts";
import { emit, emitJson } from "./output.ts";

/** Usage of `ping`. */
export const PING_USAGE =
  `usage: ustack ping HOST [-c COUNT] [-s SIZE] [-i SECONDS] [-W TIMEOUT] [link options]
  HOST         IPv4 or IPv6 address (a link-local one may add %IF)
  -c COUNT     echo requests to send (4)
  -s SIZE      payload bytes (56)
  -i SECONDS   interval between requests (1)
  -W TIMEOUT   seconds to wait for replies after the last request (10)
Exit status 0 if any reply arrived, else 1.
${LINK_USAGE}`;

/** Run `ping`; resolves to the exit status. */
export async function pingCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, {
    ...LINK_OPTIONS,
    c: { type: "string", short: "c" },
    s: { type: "string", short: "s" },
    i: { type: "string", short: "i" },
    W: { type: "string", short: "W" },
  });
  if (values.help) {
    emit(PING_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("ping needs exactly one HOST");
  const dst: IpAddress | null = tryParseIp(positionals[0]);
  if (dst === null) throw new UsageError(`${positionals[0]}: not an IPv4 or IPv6 address`);
  const count = numberFlag("c", values.c, 4, { integer: true, min: 1 });
  const size = numberFlag("s", values.s, 56, { integer: true, min: 0, max: 65507 });
  const intervalMs = numberFlag("i", values.i, 1, { min: 0.002 }) * 1000;
  const waitMs = numberFlag("W", values.W, 10, { min: 0 }) * 1000;
  const json = values.json === true;
  const config = linkConfig(values);
  await using rt = await Runtime.start(config);
  const v6 = dst.family === 6;
  const zoneNic = v6 ? rt.zoneIndex(dst.zone) : 0;
  // An IPv6 echo needs a source address that passed duplicate address detection.
  if (v6) await rt.addressesReady();
  const host = dst.toString();
  const id = (Deno.pid ^ (Math.random() * 0xffff)) & 0xffff;
  const sentAt = new Float64Array(count);
  const seen = new Uint8Array(count);
  const rtts: number[] = [];
  let done: () => void = () => {};
  const allDone = new Promise<void>((r) => (done = r));
  const onReply = (src: IpAddr, seq: number, len: number, ttl: number) => {
    const i = seq - 1;
    if (!ipEquals(src, dst) || i < 0 || i >= count || sentAt[i] === 0) return;
    const rtt = rt.stack.clock.nowMs() - sentAt[i];
    const dup = seen[i] !== 0;
    seen[i] = 1;
    if (!dup) rtts.push(rtt);
    if (json) {
      emitJson("reply", { from: host, seq, ttl, bytes: len + 8, timeMs: round3(rtt), dup });
    } else {
      emit(
        `${len + 8} bytes from ${host}: icmp_seq=${seq} ttl=${ttl} time=${fmtMs(rtt)} ms${
          dup ? " (DUP!)" : ""
        }`,
      );
    }
    if (rtts.length === count) done();
  };
  const from = new IpAddressScratch();
  if (v6) {
    rt.stack.icmp6.listenEcho(id, {
      onEchoReply: (src, seq, _buf, _off, len, hopLimit) => onReply(src, seq, len, hopLimit),
    });
  } else {
    rt.stack.icmp.listenEcho(id, {
      onEchoReply: (src, seq, _buf, _off, len, ttl) => onReply(from.setV4(src), seq, len, ttl),
    });
  }
  if (!json) {
    emit(
      v6
        ? `PING ${host}(${host}) ${size} data bytes`
        : `PING ${host} (${host}) ${size}(${size + 28}) bytes of data.`,
    );
  }
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = i & 0xff;
  const start = rt.stack.clock.nowMs();
  let transmitted = 0;
  for (let i = 0; i < count; i++) {
    sentAt[i] = rt.stack.clock.nowMs();
    const err = v6
      ? rt.stack.icmp6.sendEcho(dst, id, i + 1, payload, 0, size, 0, zoneNic)
      : rt.stack.icmp.sendEcho(dst.v4, id, i + 1, payload, 0, size);
    rt.stack.requestTick();
    if (err !== null) {
      if (json) emitJson("error", { seq: i + 1, code: err });
      else emit(`ping: sendmsg: ${err}`);
    } else transmitted++;
    if (i + 1 < count) {
      await Promise.race([allDone, sleep(intervalMs)]);
    }
  }
  await Promise.race([allDone, sleep(waitMs)]);
  if (v6) rt.stack.icmp6.unlistenEcho(id);
  else rt.stack.icmp.unlistenEcho(id);
  const elapsed = Math.round(rt.stack.clock.nowMs() - start);
  const received = rtts.length;
  const loss = transmitted === 0 ? 100 : Math.round(((transmitted - received) / transmitted) * 100);
  const min = received ? Math.min(...rtts) : 0;
  const max = received ? Math.max(...rtts) : 0;
  const avg = received ? rtts.reduce((a, b) => a + b, 0) / received : 0;
  const mdev = received ? Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / received) : 0;
  if (json) {
    emitJson("summary", {
      host,
      transmitted,
      received,
      lossPercent: loss,
      timeMs: elapsed,
      minMs: round3(min),
      avgMs: round3(avg),
      maxMs: round3(max),
      mdevMs: round3(mdev),
    });
  } else {
    emit(`\n--- ${host} ping statistics ---`);
    emit(
      `${transmitted} packets transmitted, ${received} received, ${loss}% packet loss, time ${elapsed}ms`,
    );
    if (received > 0) {
      emit(`rtt min/avg/max/mdev = ${fmtMs(min)}/${fmtMs(avg)}/${fmtMs(max)}/${fmtMs(mdev)} ms`);
    }
  }
  return received > 0 ? 0 : 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fmtMs(x: number): string {
  return x.toFixed(3);
}
