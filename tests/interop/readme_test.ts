// README's library examples must work as written: each ```ts block under "As a library" is run
// inside the stack namespace of a veth pair whose stack end is `us0` (the name the examples
// use), with only the import path pointed at this checkout.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

const README = new URL("../../README.md", import.meta.url);
const MOD = new URL("../../mod.ts", import.meta.url).href;

/** The ```ts blocks of the section titled `title`. */
function examples(markdown: string, title: string): string[] {
  const start = markdown.indexOf(`## ${title}`);
  assert.ok(start >= 0, `README has a "${title}" section`);
  const end = markdown.indexOf("\n## ", start + 3);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Run `code` in the stack namespace, wait until it answers ping, then `probe` it. */
async function runExample(code: string, probe: (pair: VethPair) => Promise<void>): Promise<void> {
  await withVethPair({}, async (pair) => {
    assert.equal(pair.stackIf, "us0");
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code.replaceAll('"./mod.ts"', JSON.stringify(MOD)));
      const child = pair.spawnInStackNs([Deno.execPath(), "run", "--allow-ffi", file], {
        stdout: "piped",
        stderr: "piped",
      });
      // The example is listening once its stack answers ARP/ping.
      let up = false;
      for (let i = 0; i < 50 && !up; i++) {
        up = (await pair.run(["ping", "-c", "1", "-W", "1", pair.stackAddr])).code === 0;
      }
      assert.ok(up, "the example's stack came up");
      await probe(pair);
      const out = await child.output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    } finally {
      await Deno.remove(file);
    }
  });
}

interopTest(
  "README: the Runtime + UDP socket example echoes a kernel datagram as written",
  async () => {
    const [udp] = examples(await Deno.readTextFile(README), "As a library");
    assert.ok(udp.includes("SOCK_DGRAM"), "the first example is the UDP echo");
    await runExample(udp, async (pair) => {
      const echo = await pair.run(["socat", "-t", "2", "-", `UDP:${pair.stackAddr}:7`], {
        stdin: "hello, README\n",
        timeoutMs: 10_000,
      });
      assert.equal(echo.stdout, "hello, README\n");
    });
  },
  { tools: ["ping", "socat"] },
);

interopTest("README: the TCP streams example echoes a kernel connection as written", async () => {
  const [, tcp] = examples(await Deno.readTextFile(README), "As a library");
  assert.ok(tcp?.includes("rt.listen"), "the second example is the TCP echo");
  await runExample(tcp, async (pair) => {
    const text = "hello, streams\n".repeat(1000);
    const echo = await pair.run(["socat", "-t", "5", "-", `TCP:${pair.stackAddr}:7`], {
      stdin: text,
      timeoutMs: 15_000,
    });
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, text);
  });
}, { tools: ["ping", "socat"] });
