// rt.serve over the loopback driver (two ends of one process, the real event loop): framing,
// pipelining, 100-continue, limits, timeouts, graceful shutdown, and rt.fetch against it.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { readText } from "../harness/conn_text.ts";
import { httpRoutes } from "../../cli/http_routes.ts";

const ADDR = "198.18.9.1";
const enc = new TextEncoder();
const T = { sanitizeOps: false, sanitizeResources: false };

const ADDR6 = "fd00:9::1";

/** A runtime on the loopback driver; `v6` adds an IPv6 address (and a name for it). */
function loopback(v6 = false): Promise<Runtime> {
  return Runtime.start({
    driver: "loopback",
    addr: v6 ? [`${ADDR}/24`, `${ADDR6}/64`] : `${ADDR}/24`,
    hosts: { "app.test": ADDR, "app6.test": ADDR6 },
  });
}

async function exchange(rt: Runtime, port: number, request: string): Promise<string> {
  const conn = await rt.connect({ hostname: ADDR, port });
  await conn.write(enc.encode(request));
  const text = await readText(conn);
  conn.close();
  return text;
}

Deno.test({
  ...T,
  name: "serve: pipelined requests with Content-Length and chunked bodies answered in order",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve(
      { port: 80, onListen() {} },
      async (req) =>
        new Response(`${req.method} ${new URL(req.url).pathname} [${await req.text()}]`),
    );
    const text = await exchange(
      rt,
      80,
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n1;e=1\r\nz\r\n0\r\nT: 1\r\n\r\n" +
        "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const bodies = [...text.matchAll(/\r\n\r\n([A-Z]+ \/\w \[\w*\])/g)].map((m) => m[1]);
    assert.deepEqual(bodies, ["GET /a []", "POST /b [abc]", "POST /c [xyz]", "GET /d []"]);
    assert.match(text, /content-length: 9\r\nconnection: close\r\n\r\nGET \/d \[\]$/);
    await server.shutdown();
    assert.equal(server.stats.requests, 4);
    assert.equal(server.stats.connections, 1);
  },
});

Deno.test({
  ...T,
  name: "serve: streamed bodies go chunked to HTTP/1.1, to the close for HTTP/1.0; HEAD has none",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, () => {
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 5));
            if (i++ < 3) c.enqueue(enc.encode(`part${i};`));
            else c.close();
          },
        }),
        { headers: { "x-kind": "stream" } },
      );
    });
    const v11 = await exchange(rt, 80, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(v11, /transfer-encoding: chunked\r\n/);
    assert.match(v11, /\r\n\r\n6\r\npart1;\r\n6\r\npart2;\r\n6\r\npart3;\r\n0\r\n\r\n$/);
    const v10 = await exchange(rt, 80, "GET / HTTP/1.0\r\n\r\n");
    // HTTP/1.0 keep-alive (ab -k): the response says keep-alive and the connection stays open.
    const ka = await rt.connect({ hostname: ADDR, port: 80 });
    await ka.write(enc.encode("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert.match(await readText(ka, /\r\n\r\n$/), /connection: keep-alive\r\n\r\n$/);
    await ka.write(enc.encode("HEAD / HTTP/1.0\r\n\r\n"));
    assert.match(await readText(ka), /^HTTP\/1\.1 200 OK[\s\S]*connection: close\r\n\r\n$/);
    ka.close();
    assert.doesNotMatch(v10, /transfer-encoding/);
    assert.match(v10, /connection: close\r\n\r\npart1;part2;part3;$/);
    const head = await exchange(rt, 80, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\n\r\n$/);
    await server.shutdown();
  },
});

Deno.test({
  ...T,
  name: "serve: Expect: 100-continue is answered when the handler reads the body",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, async (req) => {
      if (new URL(req.url).pathname === "/no") return new Response("not reading");
      return new Response(`got ${(await req.text()).length}`);
    });
    const conn = await rt.connect({ hostname: ADDR, port: 80 });
    await conn.write(enc.encode(
      "PUT /yes HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    ));
    assert.equal(await readText(conn, /\r\n\r\n/), "HTTP/1.1 100 Continue\r\n\r\n");
    await conn.write(enc.encode("abcd"));
    assert.match(await readText(conn, /got 4$/), /^HTTP\/1\.1 200 OK[\s\S]*got 4$/);
    conn.close();
    const no = await exchange(
      rt,
      80,
      "PUT /no HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    assert.doesNotMatch(no, /100 Continue/);
    assert.match(no, /connection: close\r\n\r\nnot reading$/);
    await server.shutdown();
  },
});

Deno.test({
  ...T,
  name: "serve: limits — 431, 413 (declared and chunked), 400 for garbage; the loop survives",
  async fn() {
    await using rt = await loopback();
    let calls = 0;
    const server = rt.serve(
      { port: 80, onListen() {}, maxHeaderBytes: 1024, maxBodyBytes: 100 },
      async (req) => {
        calls++;
        return new Response(`len ${(await req.arrayBuffer()).byteLength}`);
      },
    );
    assert.match(
      await exchange(rt, 80, `GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(2000)}\r\n\r\n`),
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*connection: close/,
    );
    assert.match(
      await exchange(rt, 80, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n"),
      /^HTTP\/1\.1 413 /,
    );
    const big = `${(200).toString(16)}\r\n${"z".repeat(200)}\r\n0\r\n\r\n`;
    assert.match(
      await exchange(
        rt,
        80,
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big}`,
      ),
      /^HTTP\/1\.1 413 [\s\S]*connection: close/,
    );
    for (
      const junk of [
        "BLAH\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "\x00\x01\x02\r\n\r\n",
      ]
    ) {
      assert.match(await exchange(rt, 80, junk), /^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    assert.match(
      await exchange(
        rt,
        80,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
      ),
      /len 5$/,
    );
    await server.shutdown();
    assert.equal(server.stats.rejected, 6);
    assert.equal(calls, 2, "the handler saw the chunked 413 and the good request only");
  },
});

Deno.test({
  ...T,
  name: "serve: idle keep-alive connections and slow heads time out (408)",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve(
      { port: 80, onListen() {}, idleTimeoutMs: 150, headersTimeoutMs: 300 },
      () => new Response("ok"),
    );
    const idle = await rt.connect({ hostname: ADDR, port: 80 });
    await idle.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const t0 = performance.now();
    const text = await readText(idle, undefined, 3000); // until the server closes
    assert.match(text, /\r\n\r\nok$/);
    assert.ok(performance.now() - t0 < 2000, "closed after the idle timeout");
    idle.close();
    const slow = await rt.connect({ hostname: ADDR, port: 80 });
    await slow.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    assert.match(await readText(slow, undefined, 3000), /^HTTP\/1\.1 408 Request Timeout/);
    slow.close();
    await server.shutdown();
    assert.ok(server.stats.timeouts >= 1);
  },
});

Deno.test({
  ...T,
  name: "serve: shutdown() lets the request in flight finish, closes idle ones, refuses new ones",
  async fn() {
    await using rt = await loopback();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const server = rt.serve({ port: 80, onListen() {} }, async (req) => {
      if (new URL(req.url).pathname === "/slow") await gate;
      return new Response("done");
    });
    const idle = await rt.connect({ hostname: ADDR, port: 80 });
    await idle.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await readText(idle, /done$/);
    const busy = await rt.connect({ hostname: ADDR, port: 80 });
    await busy.write(enc.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 50));
    const finished = server.shutdown();
    assert.equal(await readText(idle), "", "the idle connection got a FIN");
    idle.close();
    await assert.rejects(rt.connect({ hostname: ADDR, port: 80 }), /ECONNREFUSED/);
    release();
    assert.match(await readText(busy), /connection: close\r\n\r\ndone$/);
    busy.close();
    await finished;
    assert.equal(server.connections, 0);
  },
});

Deno.test({
  ...T,
  name: "serve: a throwing handler gets 500 (or onError's answer); info.completed settles",
  async fn() {
    await using rt = await loopback();
    const completed: Promise<void>[] = [];
    const server = rt.serve({
      port: 80,
      onListen() {},
      onError: (e) => new Response(`oops: ${(e as Error).message}`, { status: 503 }),
    }, (req, info) => {
      completed.push(info.completed);
      if (req.url.endsWith("/throw")) throw new Error("boom");
      return new Response(info.remoteAddr.hostname);
    });
    assert.match(
      await exchange(rt, 80, "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      /^HTTP\/1\.1 503 Service Unavailable[\s\S]*oops: boom$/,
    );
    assert.match(
      await exchange(rt, 80, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      /198\.18\.9\.1$/,
    );
    await Promise.all(completed);
    await server.shutdown();
    assert.equal(server.stats.handlerErrors, 1);
  },
});

Deno.test({
  ...T,
  name: "fetch: keep-alive reuse, hosts map, redirects, streamed upload, gzip, HEAD, IPv6",
  async fn() {
    await using rt = await loopback(true);
    const server = rt.serve({ port: 8080, onListen() {} }, async (req, info) => {
      const path = new URL(req.url).pathname;
      if (path === "/redirect") return Response.redirect("http://app.test:8080/echo", 303);
      if (path === "/gzip") {
        const gz = new Response("squeezed".repeat(100)).body!.pipeThrough(
          new CompressionStream("gzip"),
        );
        return new Response(gz, { headers: { "content-encoding": "gzip" } });
      }
      return new Response(`${req.method} ${info.remoteAddr.port} ${await req.text()}`);
    });
    const ports = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await rt.fetch(`http://${ADDR}:8080/echo`, { method: "POST", body: `b${i}` });
      const [method, port, body] = (await res.text()).split(" ");
      assert.equal(method, "POST");
      assert.equal(body, `b${i}`);
      ports.add(port);
    }
    assert.equal(ports.size, 1, "one connection carried every request");
    const r = await rt.fetch("http://app.test:8080/redirect", { method: "POST", body: "x" });
    assert.equal(r.redirected, true);
    assert.equal(r.url, "http://app.test:8080/echo");
    assert.match(await r.text(), /^GET /);
    const up = await rt.fetch(`http://${ADDR}:8080/echo`, {
      method: "PUT",
      body: new Response("streamed upload").body,
    });
    assert.match(await up.text(), /streamed upload$/);
    assert.equal(await (await rt.fetch(`http://${ADDR}:8080/gzip`)).text(), "squeezed".repeat(100));
    const head = await rt.fetch(`http://${ADDR}:8080/echo`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    await assert.rejects(rt.fetch("https://198.18.9.1/"), /https: URLs are not supported/);
    await assert.rejects(rt.fetch("http://nowhere.test/"), /not in the hosts map/);
    // IPv6: a literal in brackets and a name mapped to an IPv6 address, same server.
    const v6 = await rt.fetch(`http://[${ADDR6}]:8080/echo`, { method: "POST", body: "six" });
    assert.match(await v6.text(), /^POST \d+ six$/);
    const gz6 = await rt.fetch("http://app6.test:8080/gzip");
    assert.equal(await gz6.text(), "squeezed".repeat(100));
    await server.shutdown();
  },
});

Deno.test({
  ...T,
  name: "serve: 300 connections of random bytes never stop the server",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, () => new Response("fine"));
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pieces = [
      "GET",
      " ",
      "/",
      "HTTP/1.1",
      "\r\n",
      "\n",
      ":",
      "Host",
      "Content-Length: 9",
      "Transfer-Encoding: chunked",
      "\x00",
      "\xff",
      "0\r\n",
      "\r\n\r\n",
      "zz",
    ];
    for (let i = 0; i < 300; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        let s = "";
        for (let k = 0; k < 2 + rand() * 12; k++) s += pieces[Math.floor(rand() * pieces.length)];
        const conn = await rt.connect({ hostname: ADDR, port: 80 });
        await conn.write(Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff));
        await conn.closeWrite();
        const text = await readText(conn, undefined, 2000);
        assert.ok(text === "" || /^HTTP\/1\.1 \d{3} /.test(text), JSON.stringify(text));
        conn.close();
      }));
    }
    assert.match(
      await exchange(rt, 80, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      /fine$/,
    );
    await server.shutdown();
  },
});

Deno.test({
  ...T,
  name: "serve --http routes on rt.serve: a 3 MB streamed body with its Content-Length, byte-exact",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, httpRoutes);
    const res = await rt.fetch(`http://${ADDR}/bytes/3000000`);
    assert.equal(res.headers.get("content-length"), "3000000");
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(body.length, 3_000_000);
    for (let i = 0; i < body.length; i += 4999) assert.equal(body[i], i % 251);
    assert.equal((await rt.fetch(`http://${ADDR}/nope`)).status, 404);
    assert.equal((await rt.fetch(`http://${ADDR}/`, { method: "DELETE" })).status, 405);
    await server.shutdown();
  },
});

Deno.test("serve's static-body fast path is offered by this Deno and matches the body", async () => {
  const { staticBody } = await import("../../stack/http/fetch_internals.ts");
  assert.deepEqual(staticBody(new Response(new Uint8Array([1, 2, 3]))), new Uint8Array([1, 2, 3]));
  assert.equal(staticBody(new Response("héllo")), "héllo");
  const withInit = new Response("hi", { status: 201, headers: { "x-a": "b" } });
  const got = staticBody(withInit);
  assert.equal(typeof got === "string" ? got : new TextDecoder().decode(got), "hi", "with an init");
  const bytesInit = staticBody(new Response(new Uint8Array([7]), { headers: { a: "b" } }));
  assert.deepEqual(bytesInit, new Uint8Array([7]), "bytes with an init");
  const read = new Response("x", { headers: { a: "b" } });
  await read.text();
  assert.equal(staticBody(read), undefined);
  assert.equal(staticBody(new Response(new ReadableStream())), undefined);
  const used = new Response("x");
  await used.text();
  assert.equal(staticBody(used), undefined, "a consumed body is never resent");
});

Deno.test({
  ...T,
  name: "serve: response fields — set-cookie lines kept apart, hop-by-hop fields replaced, date",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, () => {
      const h = new Headers({ "transfer-encoding": "gzip", "keep-alive": "timeout=1", "x-a": "1" });
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return new Response("ok", { headers: h });
    });
    const text = await exchange(rt, 80, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(text, /\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/);
    assert.doesNotMatch(text, /transfer-encoding|keep-alive/);
    assert.match(text, /\r\ndate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
    assert.match(text, /content-length: 2\r\nconnection: close\r\n\r\nok$/);
    await server.shutdown();
  },
});

Deno.test({
  ...T,
  name: "serve: connections one after another reuse buffers without seeing each other's bytes",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve(
      { port: 80, onListen() {} },
      (req) => new Response(`${new URL(req.url).pathname} ${req.headers.get("x-long")?.length}`),
    );
    // A long request and response, then short ones: stale bytes of the first would show.
    const long = "y".repeat(3000);
    const first = await exchange(
      rt,
      80,
      `GET /${"a".repeat(500)} HTTP/1.1\r\nHost: x\r\nX-Long: ${long}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(first, new RegExp(`\\r\\n\\r\\n/a{500} 3000$`));
    for (let i = 0; i < 5; i++) {
      const text = await exchange(
        rt,
        80,
        `GET /${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, new RegExp(`\\r\\n\\r\\n/${i} undefined$`));
    }
    await server.shutdown();
    assert.equal(server.stats.connections, 6);
  },
});
