// The pieces of rt.serve's fast path on their own: raw responses, the canonical-URL check of
// lazy requests, lazy requests standing in for Deno's Request, and the header-list reader.

import assert from "node:assert/strict";
import { encodeRawResponse, RawResponse, rawResponseBytes } from "../../stack/http/raw_response.ts";
import { canonicalUrlParts, LazyRequest, lazyRequestsWork } from "../../stack/http/lazy_request.ts";
import { fieldList, staticBody } from "../../stack/http/fetch_internals.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function raw(res: RawResponse, headOnly: boolean, minor: number, close: boolean): string {
  const buf = new Uint8Array(rawResponseBytes(res, headOnly));
  return dec.decode(buf.subarray(0, encodeRawResponse(res, buf, headOnly, minor, close)));
}

Deno.test("raw response: status line, fields, date, framing and body, for each kind of request", () => {
  const res = new RawResponse();
  const body = enc.encode("hello, world");
  res.set(200, enc.encode("content-type: text/plain\r\n"), body, 5);
  const date = /date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/.source;
  const fields = "HTTP/1\\.1 200 OK\\r\\ncontent-type: text/plain\\r\\n" + date;
  assert.match(
    raw(res, false, 1, false),
    new RegExp(`^${fields}content-length: 5\\r\\n\\r\\nhello$`),
  );
  assert.match(
    raw(res, false, 1, true),
    new RegExp(`^${fields}content-length: 5\\r\\nconnection: close\\r\\n\\r\\nhello$`),
  );
  assert.match(
    raw(res, false, 0, false),
    new RegExp(`^${fields}content-length: 5\\r\\nconnection: keep-alive\\r\\n\\r\\nhello$`),
    "an HTTP/1.0 client kept open is told so",
  );
  assert.match(
    raw(res, true, 1, false),
    new RegExp(`^${fields}content-length: 5\\r\\n\\r\\n$`),
    "HEAD: the length, no body",
  );
  res.set(404, new Uint8Array(0), body, 0);
  assert.match(
    raw(res, false, 1, false),
    /^HTTP\/1\.1 404 Not Found\r\ndate: .*\r\ncontent-length: 0\r\n\r\n$/,
  );
  res.set(200, new Uint8Array(0), new Uint8Array(123456), 123456);
  assert.match(raw(res, true, 1, false), /content-length: 123456\r\n\r\n$/);
});

Deno.test("lazy request: a URL is taken as it came only when the parser would print it so", () => {
  const cases: [string, string, boolean][] = [
    ["a.test", "/", true],
    ["a.test:8080", "/p/q?z=1&y=2", true],
    ["198.18.0.2", "/bytes/64", true],
    ["a.test", "/.well-known/x", true],
    ["a.test", "/x?a/../b", true], // dots in the query are the query's
    ["A.test", "/", false], // lowercased by the parser
    ["a.test:80", "/", false], // default port dropped
    ["a.test:080", "/", false],
    ["1.2.3", "/", false], // IPv4 shorthand: 1.2.0.3
    ["1.2.3.04", "/", false],
    ["a.test.", "/", false],
    ["a.test", "/a/../b", false],
    ["a.test", "/a/.", false],
    ["a.test", "/a b", false],
    ["a.test", "/x?a'b", false], // ' is escaped in a special URL's query
    ["a.test", "/%41", false],
    ["a.test", "/é", false],
    ["", "/", false],
    ["a.test", "*", false],
  ];
  for (const [host, target, want] of cases) {
    assert.equal(canonicalUrlParts(host, target), want, `${host} ${target}`);
    if (want) assert.equal(new Request(`http://${host}${target}`).url, `http://${host}${target}`);
  }
});

Deno.test("lazy request: stands in for a Request with Deno's own code", async () => {
  assert.equal(lazyRequestsWork, true, "this Deno's Request can be stood in for");
  const req = new LazyRequest("a.test", "/p?q=1", "GET", ["X-A", "Accept"], ["1", "*/*"]).asRequest;
  assert.ok(req instanceof Request);
  assert.equal(req.url, "http://a.test/p?q=1");
  assert.equal(req.method, "GET");
  assert.equal(req.body, null);
  assert.equal(req.bodyUsed, false);
  const headers = req.headers;
  assert.equal(headers.get("x-a"), "1");
  assert.equal(req.headers, headers, "the same Headers every time");
  headers.set("x-b", "2");
  // Everything else goes through a real Request built from what the handler saw.
  assert.equal(req.redirect, "follow");
  assert.ok(req.signal instanceof AbortSignal);
  assert.equal(req.clone().headers.get("x-b"), "2");
  const copy = new Request(req, { method: "POST", body: "z" });
  assert.equal(copy.url, "http://a.test/p?q=1");
  assert.equal(copy.headers.get("accept"), "*/*");
  assert.equal(await copy.text(), "z");
  assert.equal(await req.text(), "");
  assert.equal(Object.prototype.toString.call(req), "[object Request]");
  assert.match(Deno.inspect(req), /^Request \{/);
});

Deno.test("response header list: read below the API, the same fields as res.headers", () => {
  const shapes: [string, () => Response][] = [
    ["string with status", () => new Response("x", { status: 201 })],
    ["null body", () => new Response(null, { status: 204 })],
    ["redirect", () => Response.redirect("http://a.test/", 302)],
    ["fields", () => new Response("x", { headers: { "X-A": "1", "set-cookie": "a=1" } })],
    ["Headers", () => new Response("x", { headers: new Headers([["b", "2"], ["a", "1"]]) })],
    ["stream", () => new Response(new ReadableStream(), { headers: { q: "1" } })],
    ["blob", () => new Response(new Blob(["abc"], { type: "text/x" }))],
    ["touched", () => {
      const r = new Response("x", { headers: { a: "1" } });
      r.headers.set("b", "2");
      return r;
    }],
  ];
  for (const [name, make] of shapes) {
    const r = make();
    staticBody(r);
    const list = fieldList(r);
    assert.notEqual(list, null, name);
    const got = list!.map(([k, v]) => `${k.toLowerCase()}: ${v}`).sort();
    const want: string[] = [];
    make().headers.forEach((v, k) => want.push(`${k}: ${v}`));
    assert.deepEqual(got, want.sort(), name);
  }
  // A response made without an init keeps its content type aside: not read from the list.
  assert.equal(fieldList(new Response("hi")), null);
  assert.equal(fieldList(Response.json({ a: 1 })), null);
});
