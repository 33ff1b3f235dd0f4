/**
 * The `ustack` command.
 *
 * ```
 * deno run --allow-ffi [--allow-write for --pcap] cli/ustack.ts <command> [options]
 * ```
 *
 * Commands: `serve`, `ping`, `uperf`, `pingpong`, `iperf3`, `stats`, `ss`. Exit status 2 for bad arguments, 1 for missing
 * privileges (CAP_NET_RAW) or other failures.
 *
 * @module
 */

import { IPERF3_USAGE, iperf3Command } from "./iperf3.ts";
import { isPrivilegeError, PRIVILEGE_MESSAGE, UsageError } from "./args.ts";
import { emit, emitError } from "./output.ts";
import { PING_USAGE, pingCommand } from "./ping.ts";
import { PINGPONG_USAGE, pingpongCommand } from "./pingpong.ts";
import { SERVE_USAGE, serveCommand } from "./serve.ts";
import { SS_USAGE, ssCommand } from "./ss.ts";
import { STATS_USAGE, statsCommand } from "./stats.ts";
import { UPERF_USAGE, uperfCommand } from "./uperf.ts";

const USAGE = `usage: ustack <command> [options]
commands:
  serve     run as a host until SIGINT/SIGTERM (answers ARP and ping; --udp-echo PORT)
  ping      send ICMP echo requests from the stack
  uperf     UDP throughput: 'uperf server --udp' counts, 'uperf client HOST --udp' sends
  pingpong  TCP request/response latency: 'pingpong server' echoes, 'pingpong client HOST' times
  iperf3    iperf3's protocol: 'iperf3 server' for a stock iperf3 -c, 'iperf3 client HOST' for iperf3 -s
  stats     counters of a running 'serve --control PATH', as nstat prints them
  ss        sockets of a running 'serve --control PATH', as 'ss -tuna' lists them
Run 'ustack <command> --help' for a command's options.`;

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; usage: string }> = {
  serve: { run: serveCommand, usage: SERVE_USAGE },
  ping: { run: pingCommand, usage: PING_USAGE },
  uperf: { run: uperfCommand, usage: UPERF_USAGE },
  pingpong: { run: pingpongCommand, usage: PINGPONG_USAGE },
  iperf3: { run: iperf3Command, usage: IPERF3_USAGE },
  stats: { run: statsCommand, usage: STATS_USAGE },
  ss: { run: ssCommand, usage: SS_USAGE },
};

/** Run the CLI with `args`; resolves to the process exit status. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    emit(USAGE);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    emitError(`ustack: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      emitError(`ustack ${name}: ${e.message}\n${cmd.usage}`);
      return 2;
    }
    if ((e as { code?: string })?.code === "EINVAL") {
      emitError(`ustack ${name}: ${(e as Error).message}`);
      return 2;
    }
    if (isPrivilegeError(e)) {
      emitError(PRIVILEGE_MESSAGE);
      return 1;
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      emitError(
        `ustack ${name}: ${
          (e as Error).message
        } (run with --allow-ffi; --allow-write for --pcap; --allow-net --allow-read --allow-write ` +
          `for --control, stats and ss)`,
      );
      return 1;
    }
    emitError(`ustack ${name}: ${(e as Error).message ?? e}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
