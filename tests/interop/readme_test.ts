// README's library examples must work as written: each ```ts block under "As a library" is run
// inside the stack namespace of a veth pair whose stack end is `us0` (the name the examples
// use), with only the import path pointed at this checkout.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";

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

interopTest(
  "README: the Runtime + UDP socket example echoes a kernel datagram as written",
  async () => {
    const [udp] = examples(await Deno.readTextFile(README), "As a library");
    assert.ok(udp.includes("SOCK_DGRAM"), "the first example is the UDP echo");
    await withVethPair({}, async (pair) => {
      assert.equal(pair.stackIf, "us0");
      const file = await Deno.makeTempFile({ suffix: ".ts" });
      try {
        await Deno.writeTextFile(file, udp.replaceAll('"./mod.ts"', JSON.stringify(MOD)));
        const child = pair.spawnInStackNs([Deno.execPath(), "run", "--allow-ffi", file], {
          stdout: "piped",
          stderr: "piped",
        });
        // The example is listening once the stack answers ARP/ping.
        let up = false;
        for (let i = 0; i < 50 && !up; i++) {
          up = (await pair.run(["ping", "-c", "1", "-W", "1", pair.stackAddr])).code === 0;
        }
        assert.ok(up, "the example's stack came up");
        const echo = await pair.run(["socat", "-t", "2", "-", `UDP:${pair.stackAddr}:7`], {
          stdin: "hello, README\n",
          timeoutMs: 10_000,
        });
        assert.equal(echo.stdout, "hello, README\n");
        const out = await child.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      } finally {
        await Deno.remove(file);
      }
    });
  },
  { tools: ["ping", "socat"] },
);
