// README's library examples must work as written: each ```ts block under "As a library" is run
// inside the stack namespace of a veth pair whose stack end is `us0` (the name the examples
// use), with only the import path pointed at this checkout.

import assert from "node:assert/strict";
import { interopTest, waitFor } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

const README = new URL("../../README.md", import.meta.url);
const MOD = new URL("../../mod.ts", import.meta.url).href;
const NODE = new URL("../../node.ts", import.meta.url).href;

/** The ```ts blocks of the section titled `title`. */
function examples(markdown: string, title: string): string[] {
  const start = markdown.indexOf(`## ${title}`);
  assert.ok(start >= 0, `README has a "${title}" section`);
  const end = markdown.indexOf("\n## ", start + 3);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Run `code` in the stack namespace, wait until it answers ping, then `probe` it. */
async function runExample(
  code: string,
  probe: (pair: VethPair) => Promise<void>,
  opts: {
    before?: (pair: VethPair) => Promise<void>;
    stdout?: RegExp;
    /** Wait until the example's stack answers ping before probing [true]. */
    waitUp?: boolean;
  } = {},
): Promise<void> {
  await withVethPair({}, async (pair) => {
    await opts.before?.(pair);
    assert.equal(pair.stackIf, "us0");
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        file,
        code.replaceAll('"./mod.ts"', JSON.stringify(MOD)).replaceAll(
          '"./node.ts"',
          JSON.stringify(NODE),
        ),
      );
      const child = pair.spawnInStackNs([Deno.execPath(), "run", "--allow-ffi", file], {
        stdout: "piped",
        stderr: "piped",
      });
      // The example is listening once its stack answers ARP/ping.
      let up = opts.waitUp === false;
      for (let i = 0; i < 50 && !up; i++) {
        up = (await pair.run(["ping", "-c", "1", "-W", "1", pair.stackAddr])).code === 0;
      }
      assert.ok(up, "the example's stack came up");
      await probe(pair);
      const out = await child.output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      if (opts.stdout !== undefined) {
        assert.match(new TextDecoder().decode(out.stdout), opts.stdout);
      }
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
}, { tools: ["ping", "socat", "ss"] });

/** A kernel server in the peer namespace for an example to talk to; killed with the pair. */
async function kernelServer(pair: VethPair, cmd: string[], port: number): Promise<void> {
  pair.spawn(cmd, { stdout: "null", stderr: "null" });
  await waitFor(
    async () => (await pair.run(["ss", "-Hltn", `sport = :${port}`])).stdout.trim() !== "",
    { what: `a kernel server on port ${port}`, timeoutMs: 10_000, intervalMs: 100 },
  );
}

interopTest("README: the rt.serve example answers the kernel's curl as written", async () => {
  const [, , serve] = examples(await Deno.readTextFile(README), "As a library");
  assert.ok(serve?.includes("rt.serve"), "the third example is the HTTP server");
  await runExample(serve, async (pair) => {
    const r = await pair.run(["curl", "-sS", "-m", "10", `http://${pair.stackAddr}/readme`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `hello ${pair.peerAddr}, you asked for /readme\n`);
  });
}, { tools: ["ping", "curl"] });

interopTest("README: the rt.fetch example fetches from a kernel server as written", async () => {
  const [, , , fetchExample] = examples(await Deno.readTextFile(README), "As a library");
  assert.ok(fetchExample?.includes("rt.fetch"), "the fourth example is fetch");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/index.html`, "kernel page\n");
    await runExample(fetchExample, async () => {}, {
      before: (pair) =>
        kernelServer(pair, [
          "python3",
          "-m",
          "http.server",
          "8000",
          "-b",
          pair.peerAddr,
          "-d",
          dir,
        ], 8000),
      stdout: /^200 kernel page\n/,
      waitUp: false,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, { tools: ["ping", "python3", "ss"] });

interopTest("README: the node-style socket example talks to a kernel echo server", async () => {
  const [, , , , node] = examples(await Deno.readTextFile(README), "As a library");
  assert.ok(node?.includes("./node.ts"), "the fifth example uses the node export");
  await runExample(node, async () => {}, {
    before: (pair) => kernelServer(pair, ["socat", "TCP-LISTEN:7,reuseaddr,fork", "PIPE"], 7),
    stdout: /^echoed: hello over ustack$/m,
  });
}, { tools: ["ping", "socat", "ss"] });
