/**
 * The harness leaves no namespace behind however a test process ends: a child process makes a
 * veth pair, starts a command inside it, and is stopped by SIGTERM (its signal hook deletes the
 * namespaces, then it exits 143) or SIGKILL (its namespace watchdog deletes them and kills what
 * still ran inside).
 *
 * @module
 */

import assert from "node:assert/strict";
import { interopTest, waitFor } from "../harness/interop.ts";
import { runCommand } from "../harness/netns.ts";

const HARNESS = new URL("../harness/netns.ts", import.meta.url).href;

/** The child: a pair, a long `sleep` in its peer namespace, one line of names, then waiting. */
const CHILD = `import { createVethPair } from ${JSON.stringify(HARNESS)};
const pair = await createVethPair({ ipv6: false });
const sleeper = pair.spawn(["sleep", "300"]);
console.log(JSON.stringify({ ns: [pair.stackNs, pair.peerNs], sleeper: sleeper.pid }));
await new Promise((resolve) => setTimeout(resolve, 60_000));`;

/** Names of the network namespaces that exist now. */
async function namespaces(): Promise<string[]> {
  const r = await runCommand(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n !== "");
}

/** Whether process `pid` still exists (and is not a zombie waiting for its parent). */
async function alive(pid: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGKILL", 137]] as const) {
  interopTest(`harness: a test process ended by ${signal} leaves no namespace behind`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "data:application/typescript," + encodeURIComponent(CHILD)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let made: { ns: string[]; sleeper: number };
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const first = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the child made no pair in 30 s")), 30_000)
        ),
      ]);
      made = JSON.parse(String(first.value).split("\n")[0]);
      reader.releaseLock();
      assert.equal(made.ns.length, 2);
      for (const ns of made.ns) assert.ok((await namespaces()).includes(ns), `${ns} was made`);
      assert.ok(await alive(made.sleeper), "the command inside runs");
    } catch (e) {
      child.kill("SIGKILL");
      await child.status;
      throw e;
    }
    child.kill(signal);
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, code);
    await waitFor(async () => {
      const left = await namespaces();
      return made.ns.every((ns) => !left.includes(ns));
    }, { what: `${made.ns.join(" and ")} deleted after ${signal}`, timeoutMs: 10_000 });
    await waitFor(async () => !(await alive(made.sleeper)), {
      what: `the child's sleep (pid ${made.sleeper}) gone after ${signal}`,
      timeoutMs: 10_000,
    });
  });
}
