// Real applications on ustack against real kernel peers: a Hono app (npm) served by rt.serve
// answering the kernel's curl, rt.fetch against a kernel HTTP server, and PostgreSQL from
// Debian's packages queried by the npm `pg` client through ustack's node-style sockets.
//
// The npm packages are imported by this file, so `deno test` fetches them in the root
// namespace before any test enters a network namespace.

import assert from "node:assert/strict";
// Test-only npm packages, pinned here rather than in deno.json's imports so the published
// package's import map keeps zero dependencies.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
// deno-lint-ignore no-import-prefix
import pg from "npm:pg@8.23.1";
import { Runtime } from "../../mod.ts";
import { Socket } from "../../node.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/** Boot ustack on the pair's stack end, inside this process. */
function stackOn(pair: VethPair): Promise<Runtime> {
  return Runtime.start({
    if: pair.stackIf,
    netns: pair.stackNs,
    addr: `${pair.stackAddr}/${pair.prefixLen}`,
    hosts: { "kernel.test": pair.peerAddr },
  });
}

interopTest(
  "a Hono app (npm) runs unchanged on rt.serve and answers the kernel's curl",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const app = new Hono();
      app.get("/", (c) => c.text("hello from hono on ustack"));
      app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));
      app.post("/echo", async (c) => c.json({ got: await c.req.text() }, 201));
      await using rt = await stackOn(pair);
      const server = rt.serve({ port: 8080, onListen() {} }, app.fetch);
      const url = `http://${pair.stackAddr}:8080`;
      const text = await pair.run(["curl", "-sS", "-m", "10", `${url}/`]);
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout, "hello from hono on ustack");
      const json = await pair.run(["curl", "-sS", "-m", "10", "-i", `${url}/users/42?q=x`]);
      assert.match(json.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(json.stdout, /content-type: application\/json/i);
      assert.match(json.stdout, /\r\n\r\n\{"id":"42","q":"x"\}$/);
      const post = await pair.run([
        "curl",
        "-sS",
        "-m",
        "10",
        "-w",
        " %{http_code}",
        "-H",
        "content-type: text/plain",
        "--data-binary",
        "payload",
        `${url}/echo`,
      ]);
      assert.equal(post.stdout, '{"got":"payload"} 201');
      const missing = await pair.run([
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `${url}/nope`,
      ]);
      assert.equal(missing.stdout, "404");
      // curl --http1.1 with a chunked upload, then keep-alive across two URLs.
      const chunked = await pair.run([
        "sh",
        "-c",
        `printf 'streamed body' | curl -sS -m 10 -H 'transfer-encoding: chunked' ` +
        `-H 'content-type: text/plain' --data-binary @- ${url}/echo`,
      ]);
      assert.equal(chunked.stdout, '{"got":"streamed body"}');
      const two = await pair.run([
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects}\\n",
        `${url}/`,
        `${url}/users/1`,
      ]);
      assert.deepEqual(two.stdout.trim().split("\n"), ["1", "0"]);
      await server.shutdown();
      assert.equal(server.stats.handlerErrors, 0);
    });
  },
  { tools: ["curl"] },
);

interopTest(
  "rt.fetch downloads from a kernel HTTP server (Deno.serve) and reuses the connection",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const script = await Deno.makeTempFile({ suffix: ".ts" });
      await Deno.writeTextFile(
        script,
        `const big = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 255);
Deno.serve({ hostname: "${pair.peerAddr}", port: 8000, onListen: () => console.log("ready") },
  async (req, info) => {
    const path = new URL(req.url).pathname;
    if (path === "/big") return new Response(big);
    if (path === "/post") return new Response("posted " + (await req.text()).length);
    return new Response("port " + info.remoteAddr.port);
  });`,
      );
      const server = pair.spawn([Deno.execPath(), "run", "--allow-net", script]);
      try {
        const reader = server.stdout.getReader();
        const { value } = await reader.read();
        assert.match(new TextDecoder().decode(value), /ready/);
        reader.releaseLock();
        server.stdout.pipeTo(new WritableStream()).catch(() => {});
        await using rt = await stackOn(pair);
        const ports = new Set<string>();
        for (let i = 0; i < 5; i++) {
          const res = await rt.fetch("http://kernel.test:8000/port");
          assert.equal(res.status, 200);
          ports.add(await res.text());
        }
        assert.equal(ports.size, 1, `one connection for five requests: ${[...ports]}`);
        const big = new Uint8Array(
          await (await rt.fetch(`http://${pair.peerAddr}:8000/big`)).arrayBuffer(),
        );
        assert.equal(big.length, 3_000_000);
        for (let i = 0; i < big.length; i += 9973) assert.equal(big[i], (i * 7) & 255);
        const posted = await rt.fetch(`http://${pair.peerAddr}:8000/post`, {
          method: "POST",
          body: new Uint8Array(200_000),
        });
        assert.equal(await posted.text(), "posted 200000");
      } finally {
        try {
          server.kill();
        } catch { /* gone */ }
        await server.status;
        await Deno.remove(script);
      }
    });
  },
);

/** Start PostgreSQL in the peer namespace; resolves once it accepts connections. */
async function startPostgres(pair: VethPair, dir: string): Promise<Deno.ChildProcess> {
  const bin = (await Array.fromAsync(Deno.readDir("/usr/lib/postgresql")))
    .map((e) => e.name).sort().at(-1);
  const pgbin = `/usr/lib/postgresql/${bin}/bin`;
  await Deno.chmod(dir, 0o777);
  const asPostgres = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups"];
  const init = await pair.run([
    ...asPostgres,
    `${pgbin}/initdb`,
    "-D",
    `${dir}/data`,
    "-A",
    "trust",
    "-U",
    "postgres",
  ]);
  assert.equal(init.code, 0, init.stderr);
  await Deno.writeTextFile(`${dir}/data/pg_hba.conf`, "host all all 198.18.0.0/15 trust\n", {
    append: true,
  });
  const server = pair.spawn([
    ...asPostgres,
    `${pgbin}/postgres`,
    "-D",
    `${dir}/data`,
    "-h",
    pair.peerAddr,
    "-k",
    dir,
    "-c",
    "fsync=off",
  ], { stdout: "null", stderr: "null" });
  await waitFor(
    async () => (await pair.run(["pg_isready", "-h", pair.peerAddr])).code === 0,
    { what: "PostgreSQL to accept connections", timeoutMs: 30_000, intervalMs: 200 },
  );
  return server;
}

interopTest(
  "PostgreSQL (Debian) answers the npm pg client speaking through ustack's node sockets",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const dir = await Deno.makeTempDir();
      let server: Deno.ChildProcess | null = null;
      try {
        server = await startPostgres(pair, dir);
        await using rt = await stackOn(pair);
        const client = new pg.Client({
          host: pair.peerAddr,
          port: 5432,
          user: "postgres",
          database: "postgres",
          // The socket factory: every byte of the session goes through ustack.
          stream: () => new Socket({ runtime: rt }),
        });
        await client.connect();
        const version = await client.query("SELECT version() AS v");
        assert.match(version.rows[0].v, /^PostgreSQL \d+/);
        await client.query("CREATE TABLE pets (id serial PRIMARY KEY, name text, legs int)");
        for (const [name, legs] of [["cat", 4], ["bird", 2], ["snake", 0]] as const) {
          await client.query("INSERT INTO pets (name, legs) VALUES ($1, $2)", [name, legs]);
        }
        const pets = await client.query("SELECT name, legs FROM pets WHERE legs > $1 ORDER BY id", [
          1,
        ]);
        assert.deepEqual(pets.rows, [{ name: "cat", legs: 4 }, { name: "bird", legs: 2 }]);
        // A result larger than one TCP window, streamed back through the stack.
        const big = await client.query(
          "SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, 20000) g",
        );
        assert.equal(big.rows.length, 20_000);
        assert.equal(big.rows.at(-1).n, 20_000);
        const sum = await client.query("SELECT sum(g)::text AS s FROM generate_series(1, 1000) g");
        assert.equal(sum.rows[0].s, "500500");
        await client.end();
        const pid = await pair.run(["pg_isready", "-h", pair.peerAddr]);
        assert.equal(pid.code, 0, "the server is still fine after the client left");
      } finally {
        if (server !== null) {
          try {
            server.kill("SIGINT"); // fast shutdown
          } catch { /* gone */ }
          await server.status;
        }
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
  { tools: ["setpriv", "pg_isready"] },
);
