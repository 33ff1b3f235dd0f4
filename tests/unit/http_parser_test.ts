// HTTP/1.1 heads and the chunked coding: what is accepted, what is refused with which status,
// and that the decoder finds the payload whatever pieces the bytes arrive in.

import assert from "node:assert/strict";
import {
  findHeadEnd,
  HttpHead,
  parseRequestHead,
  parseResponseHead,
} from "../../stack/http/head_parser.ts";
import { ChunkedDecoder, writeChunkHeader } from "../../stack/http/chunked.ts";

const LIMITS = { maxHeadBytes: 1024, maxHeaders: 8 };
const enc = new TextEncoder();

function req(text: string, head = new HttpHead()): { n: number; head: HttpHead } {
  const b = enc.encode(text);
  return { n: parseRequestHead(b, 0, b.length, head, LIMITS), head };
}

Deno.test("request head: fields, framing and keep-alive", () => {
  const { n, head } = req(
    "\r\nPOST /a?b=1 HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nX-A:  v w \r\n\r\nhello",
  );
  assert.equal(
    n,
    "\r\nPOST /a?b=1 HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nX-A:  v w \r\n\r\n".length,
  );
  assert.equal(head.method, "POST");
  assert.equal(head.target, "/a?b=1");
  assert.equal(head.minor, 1);
  assert.equal(head.host, "x.test");
  assert.equal(head.contentLength, 5);
  assert.equal(head.keepAlive, true);
  assert.deepEqual(head.pairs().at(-1), ["X-A", "v w"]);
  assert.equal(req("GET / HTTP/1.0\r\n\r\n").head.keepAlive, false);
  assert.equal(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keepAlive, true);
  assert.equal(
    req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n").head.keepAlive,
    false,
  );
  const chunked = req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").head;
  assert.equal(chunked.chunked, true);
  assert.equal(chunked.contentLength, -1);
  assert.equal(
    req("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").head.expectContinue,
    true,
  );
  assert.equal(
    req("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n").head.contentLength,
    7,
  );
  // Non-ASCII bytes in a value come out one char per byte (latin1).
  const b = new Uint8Array([
    ...enc.encode("GET / HTTP/1.1\r\nHost: a\r\nX: "),
    0xe9,
    13,
    10,
    13,
    10,
  ]);
  const h = new HttpHead();
  assert.ok(parseRequestHead(b, 0, b.length, h, LIMITS) > 0);
  assert.equal(h.values[1], "\u00e9");
});

Deno.test("request head: incomplete heads ask for more, oversized ones get 431", () => {
  assert.equal(req("GET / HTTP/1.1\r\nHost: a\r\n").n, 0);
  assert.equal(req("GET / HTTP/1.1\r\nHost: a\r\n\r").n, 0);
  assert.equal(req("GET / HTTP/1.1\r\nX: " + "a".repeat(2000)).n, -431);
  const many = Array.from({ length: 9 }, (_, i) => `X${i}: v\r\n`).join("");
  assert.equal(req(`GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`).n, -431);
});

Deno.test("request head: malformed and smuggling-prone heads are refused", () => {
  const cases: [string, number][] = [
    ["BLAH\r\n\r\n", -400],
    ["GET /\r\n\r\n", -400],
    ["GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400],
    ["GET / HTTP/1.1\nHost: a\r\n\r\n", -400], // bare LF
    ["GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", -400], // bare CR
    ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400], // space before colon
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400], // obs-fold
    ["GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", -400], // control char
    ["GET / HTTP/1.1\r\n\r\n", -400], // no Host
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", -400],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", -400],
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -400],
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501],
    ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400],
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505],
    ["GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", -417],
    ["GET / HTTX/1.1\r\nHost: a\r\n\r\n", -400],
  ];
  for (const [text, want] of cases) assert.equal(req(text).n, want, JSON.stringify(text));
});

Deno.test("response head: status, reason, framing", () => {
  const b = enc.encode("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc");
  const h = new HttpHead();
  assert.equal(parseResponseHead(b, 0, b.length, h, LIMITS), b.length - 3);
  assert.equal(h.status, 404);
  assert.equal(h.reason, "Not Found");
  assert.equal(h.contentLength, 3);
  const c = enc.encode("HTTP/1.0 200\r\nTransfer-Encoding: chunked\r\n\r\n");
  assert.ok(parseResponseHead(c, 0, c.length, h, LIMITS) > 0);
  assert.equal(h.status, 200);
  assert.equal(h.chunked, true);
  assert.equal(h.keepAlive, false);
  const bad = enc.encode("HTTP/1.1 2x0 OK\r\n\r\n");
  assert.ok(parseResponseHead(bad, 0, bad.length, h, LIMITS) < 0);
  assert.equal(findHeadEnd(enc.encode("a\r\n\r\nb"), 0, 6), 5);
});

/** Decode `text` fed in pieces of `step` bytes; returns the payload and the final state. */
function decodeInPieces(text: string, step: number) {
  const bytes = enc.encode(text);
  const d = new ChunkedDecoder();
  let out = "";
  let at = 0;
  while (at < bytes.length && !d.done && !d.error) {
    const end = Math.min(bytes.length, at + step);
    let pos = at;
    while (pos < end && !d.done && !d.error) {
      const used = d.decode(bytes, pos, end);
      out += new TextDecoder().decode(bytes.subarray(d.dataStart, d.dataEnd));
      pos += used;
      if (used === 0) break;
    }
    at = pos;
  }
  return { out, done: d.done, error: d.error, rest: bytes.length - at };
}

Deno.test("chunked decoder: payload, extensions, trailers, in any pieces", () => {
  const body = "5\r\nhello\r\nA;name=val\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (const step of [1, 2, 3, 7, 1000]) {
    const r = decodeInPieces(body, step);
    assert.equal(r.out, "hello0123456789", `step ${step}`);
    assert.equal(r.done, true);
    assert.equal(r.rest, 4, "stops right after the body");
  }
  for (const bad of ["x\r\n", "5\r\nhelloXX", "5\nhello\r\n", "fffffffffffffff\r\n", "0\r\nT\n"]) {
    const r = decodeInPieces(bad + "\r\n\r\n", 3);
    assert.equal(r.error, true, JSON.stringify(bad));
  }
  const b = new Uint8Array(16);
  assert.equal(new TextDecoder().decode(b.subarray(0, writeChunkHeader(b, 0, 4096))), "1000\r\n");
});
