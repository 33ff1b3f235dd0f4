// rt.serve's fast paths over the loopback driver: the responder (serve --http's own routes
// below the fetch API), connections driven by readiness callbacks between requests and
// handed to an async task for what must wait, and lazy requests.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { readText } from "../harness/conn_text.ts";
import { httpResponder, httpRoutes } from "../../cli/http_routes.ts";

const ADDR = "198.18.9.1";
const enc = new TextEncoder();
const T = { sanitizeOps: false, sanitizeResources: false };

function loopback(): Promise<Runtime> {
  return Runtime.start({ driver: "loopback", addr: `${ADDR}/24` });
}

/** The pattern body of `/bytes/n` as latin1 text. */
function pattern(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(i % 251);
  return s;
}

Deno.test({
  ...T,
  name: "serve responder: its routes and the handler's answer pipelined requests in order",
  async fn() {
    await using rt = await loopback();
    let handled = 0;
    const server = rt.serve({ port: 80, onListen() {}, responder: httpResponder }, (req) => {
      handled++;
      return httpRoutes(req);
    });
    const conn = await rt.connect({ hostname: ADDR, port: 80 });
    await conn.write(enc.encode(
      "GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n" +
        "HEAD /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /bytes/3?q=1 HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /bytes/20000 HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /bytes/2 HTTP/1.0\r\n\r\n",
    ));
    const text = await readText(conn);
    conn.close();
    const parts = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(parts.length, 6, text.slice(0, 400));
    assert.match(parts[0], /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(parts[0], /content-type: application\/octet-stream\r\nserver: ustack\r\n/);
    assert.ok(parts[0].endsWith(`content-length: 5\r\n\r\n${pattern(5)}`));
    assert.ok(parts[1].endsWith("content-length: 7\r\n\r\n"), "HEAD: the length, no body");
    assert.match(parts[2], /^HTTP\/1\.1 404 Not Found\r\n[\s\S]*\r\n\r\nnot found\n$/);
    assert.ok(parts[3].endsWith(`\r\n\r\n${pattern(3)}`));
    assert.ok(parts[4].endsWith(`content-length: 20000\r\n\r\n${pattern(20000)}`), "two writes");
    assert.ok(parts[5].endsWith(`connection: close\r\n\r\n${pattern(2)}`), "HTTP/1.0: closed");
    assert.equal(handled, 1, "only /nope reached the handler");
    assert.equal(server.stats.requests, 6);
    await server.shutdown();
    assert.equal(server.connections, 0);
  },
});

Deno.test({
  ...T,
  name: "serve responder: HTTP/1.0 keep-alive and Connection: close, a connection each",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {}, responder: httpResponder }, httpRoutes);
    const ka = await rt.connect({ hostname: ADDR, port: 80 });
    for (let i = 1; i <= 3; i++) {
      await ka.write(enc.encode(`GET /bytes/${i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`));
      const text = await readText(ka, new RegExp(`\\r\\n\\r\\n[\\s\\S]{${i}}$`));
      assert.ok(text.endsWith(`connection: keep-alive\r\n\r\n${pattern(i)}`), text);
    }
    await ka.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const last = await readText(ka);
    assert.match(last, /connection: close\r\n\r\n<!doctype html>[\s\S]*<\/html>\n$/);
    ka.close();
    for (let i = 0; i < 20; i++) {
      const c = await rt.connect({ hostname: ADDR, port: 80 });
      await c.write(enc.encode("GET /bytes/64 HTTP/1.0\r\n\r\n"));
      assert.ok((await readText(c)).endsWith(pattern(64)));
      c.close();
    }
    await server.shutdown();
    assert.equal(server.stats.connections, 21);
    assert.equal(server.connections, 0);
  },
});

Deno.test({
  ...T,
  name: "serve: one keep-alive connection through async handlers, bodies, streams and idle gaps",
  async fn() {
    await using rt = await loopback();
    const server = rt.serve({ port: 80, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/slow") await new Promise((r) => setTimeout(r, 20));
      if (path === "/echo") return new Response(`echo ${await req.text()}`);
      if (path === "/stream") {
        let i = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              await new Promise((r) => setTimeout(r, 2));
              if (i++ < 3) c.enqueue(enc.encode(`s${i};`));
              else c.close();
            },
          }),
        );
      }
      return new Response(`${req.method} ${path} ${req.headers.get("x-n")}`);
    });
    const conn = await rt.connect({ hostname: ADDR, port: 80 });
    const ask = async (request: string, until: RegExp) => {
      await conn.write(enc.encode(request));
      return await readText(conn, until);
    };
    assert.match(await ask("GET /a HTTP/1.1\r\nHost: x\r\nX-N: 1\r\n\r\n", /GET \/a 1$/), /^HTTP/);
    assert.match(await ask("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", /GET \/slow null$/), /^HTTP/);
    const chunked = await ask(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      /echo abc$/,
    );
    assert.match(chunked, /content-length: 8\r\n/);
    await new Promise((r) => setTimeout(r, 30)); // idle: back to the readiness callback
    const streamed = await ask("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", /0\r\n\r\n$/);
    assert.match(
      streamed,
      /transfer-encoding: chunked\r\n[\s\S]*3\r\ns1;\r\n3\r\ns2;\r\n3\r\ns3;\r\n0\r\n\r\n$/,
    );
    // Two pipelined requests whose handler reads its headers only after an await: each sees
    // its own (a lazy request keeps the fields it was made with).
    const pair = await ask(
      "GET /slow HTTP/1.1\r\nHost: x\r\nX-N: 7\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX-N: 8\r\n\r\n",
      /GET \/b 8$/,
    );
    assert.match(pair, /GET \/slow 7[\s\S]*GET \/b 8$/);
    await conn.write(enc.encode("HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const last = await readText(conn);
    assert.match(
      last,
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 12\r\nconnection: close\r\n\r\n$/,
    );
    conn.close();
    await server.shutdown();
    assert.equal(server.stats.requests, 7);
    assert.equal(server.connections, 0);
  },
});

Deno.test({
  ...T,
  name: "serve: a lazy request is a Request; a host the URL parser rewrites gets a real one",
  async fn() {
    await using rt = await loopback();
    const seen: string[] = [];
    const server = rt.serve({ port: 80, onListen() {} }, async (req) => {
      const copy = new Request(req);
      seen.push(
        [
          req instanceof Request,
          req.url,
          copy.url,
          req.headers.get("x-a"),
          req.clone().headers.get("x-a"),
          await req.text(),
          req.signal instanceof AbortSignal,
        ].join(" "),
      );
      return new Response("ok");
    });
    const conn = await rt.connect({ hostname: ADDR, port: 80 });
    await conn.write(enc.encode(
      "GET /p?q=1 HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n\r\n" +
        "GET /a/../b HTTP/1.1\r\nHost: Example.TEST:80\r\nX-A: 2\r\n\r\n" +
        "GET /c HTTP/1.0\r\nX-A: 3\r\n\r\n",
    ));
    await readText(conn);
    conn.close();
    assert.deepEqual(seen, [
      "true http://a.test/p?q=1 http://a.test/p?q=1 1 1  true",
      "true http://example.test/b http://example.test/b 2 2  true",
      "true http://[::]/c http://[::]/c 3 3  true", // no Host: the listening address
    ]);
    await server.shutdown();
  },
});
