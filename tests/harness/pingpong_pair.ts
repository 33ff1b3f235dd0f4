/**
 * A pingpong pair of two stacks on one veth pair — a `pingpong server` stack on the peer end and
 * a fresh `pingpong client --connect` crowd on the stack end — as `many_clients_test.ts` runs it
 * and `bench/warm_up_gc.ts` counts it (one set-up for both).
 *
 * @module
 */

import { runCommand, type VethPair } from "./netns.ts";
import { CLI_PATH, cliCommand, CliProcess } from "./ustack_cli.ts";

/**
 * Take the kernel's address off the peer end and forget the stack end's neighbours, so that a
 * second stack can own the peer end's address. Throws when a command fails.
 */
export async function peerWithoutKernelAddress(pair: VethPair): Promise<void> {
  for (
    const cmd of [
      ["ip", "-n", pair.peerNs, "addr", "flush", "dev", pair.peerIf],
      ["ip", "-n", pair.stackNs, "neigh", "flush", "dev", pair.stackIf],
    ]
  ) {
    const r = await runCommand(cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  }
}

/**
 * `pingpong server --json` of checkout `cli` on the peer end (a second stack, see
 * {@link peerWithoutKernelAddress}); with `v8Flags`, run with them and line-buffered (V8's
 * trace lines and the JSON events keep their order).
 */
export function peerPingpongServer(
  pair: VethPair,
  v8Flags?: string,
  cli: string = CLI_PATH,
): CliProcess {
  const cmd = cliCommand(
    [
      ...["pingpong", "server", "--if", pair.peerIf],
      ...["--addr", `${pair.peerAddr}/${pair.prefixLen}`, "--json"],
    ],
    v8Flags === undefined ? [] : [`--v8-flags=${v8Flags}`],
    cli,
  );
  return new CliProcess(
    pair.spawn(v8Flags === undefined ? cmd : ["stdbuf", "-oL", ...cmd], {
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/**
 * The command of a fresh `pingpong client --connect` (1,000 connections, 32 at once, `--json`)
 * of checkout `cli` in the stack's namespace against the peer's server, with V8 flag `v8Flag`
 * and line-buffered output.
 */
export function crowdClientCommand(
  pair: VethPair,
  v8Flag: string,
  cli: string = CLI_PATH,
): string[] {
  return [
    ...["ip", "netns", "exec", pair.stackNs, "stdbuf", "-oL"],
    ...cliCommand(
      [
        ...["pingpong", "client", pair.peerAddr, "--connect", "-C", "32", "-n", "1000"],
        ...["--json", "--if", pair.stackIf, "--addr", `${pair.stackAddr}/${pair.prefixLen}`],
      ],
      [`--v8-flags=${v8Flag}`],
      cli,
    ),
  ];
}
