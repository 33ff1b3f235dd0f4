/**
 * One request/response exchange of `rt.serve` ({@link HttpServer}), once its head is parsed:
 * a responder's answer below the fetch API, or the fetch handler's — run on a lazy or real
 * `Request`, its `Response` written at once when it has a string or bytes body and the send
 * buffer takes it (no promise), else through the async writer — and the refusals (400, 413,
 * …) answered before the handler. The server decides what happens to the connection from
 * what these return.
 *
 * @module
 */

import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BodyReader, HttpBodyError } from "./body.ts";
import { HandlerInfo, type HttpConnection, PHASE_HANDLER, PHASE_WRITE } from "./http_connection.ts";
import { canonicalUrlParts, LazyRequest, lazyRequestsWork } from "./lazy_request.ts";
import { type HttpResponder, RawResponse } from "./raw_response.ts";
import type { WriteResult } from "./response_writer.ts";
import type { HttpServerStats, ServeHandler } from "./serve_options.ts";
import { reasonPhrase } from "./status.ts";

/** Unread request body bytes drained to keep a connection; more and it is closed. */
const MAX_DRAIN_BYTES = 256 * 1024;

/**
 * Methods a lazy request may carry: the `Request` constructor keeps them as they are (it
 * upper-cases other spellings of the standard ones and refuses CONNECT, TRACE and TRACK).
 */
const LAZY_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/** {@link Exchanges.answerRaw}: the responder declined (the handler answers). */
export const RAW_DECLINED = 0;
/** The answer is written and the connection goes on. */
export const RAW_KEEP = 1;
/** The answer is written and the connection ends. */
export const RAW_CLOSE = 2;

/** No 100 Continue is ever sent for a request without a body. */
const NOT_SENT = (): boolean => false;

/** The default `onError`: log, answer 500. */
export function defaultOnError(error: unknown): Response {
  console.error("ustack serve: the handler threw:", error);
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain;charset=UTF-8" },
  });
}

/** What {@link Exchanges} needs of its server. */
export interface ExchangeConfig {
  /** The fetch handler. */
  handler: ServeHandler;
  /** Turns a handler exception into a response. */
  onError: (error: unknown) => Response | Promise<Response>;
  /** Answers requests without a body below the fetch API first, if given. */
  responder: HttpResponder | null;
  /** Largest request body. */
  maxBodyBytes: number;
  /** The server's counters. */
  stats: HttpServerStats;
  /** The server is shutting down (answers say `connection: close`). */
  closing(): boolean;
  /** The Host to assume for a request without one. */
  hostText(): string;
}

/** Runs the exchanges of one server (see the module documentation). */
export class Exchanges {
  readonly #cfg: ExchangeConfig;
  readonly #stats: HttpServerStats;
  /** The responder's answer, reused for every request. */
  readonly #raw = new RawResponse();

  /** Exchanges for the server described by `cfg`. */
  constructor(cfg: ExchangeConfig) {
    this.#cfg = cfg;
    this.#stats = cfg.stats;
  }

  /** Answer a request refused before the handler, then close. */
  async refuse(c: HttpConnection, status: number): Promise<void> {
    this.#stats.rejected++;
    const text = `${reasonPhrase(status)}\n`;
    await c.rw.writeHead(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain\r\n` +
        `content-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`,
    );
  }

  /**
   * Let the responder answer a request without a body: {@link RAW_DECLINED} when it (or its
   * absence) leaves the request to the handler, else whether the connection goes on —
   * {@link RAW_KEEP}/{@link RAW_CLOSE} when the send buffer took the answer at once, a promise
   * when it must wait for room.
   */
  answerRaw(c: HttpConnection): number | Promise<boolean> {
    const head = c.head;
    const responder = this.#cfg.responder;
    if (
      responder === null || head.chunked || head.contentLength > 0 || head.expectContinue ||
      !responder(head, this.#raw)
    ) return RAW_DECLINED;
    this.#stats.requests++;
    const keepAlive = head.keepAlive && !this.#cfg.closing();
    const headOnly = head.method === "HEAD";
    if (!headOnly) this.#stats.bodyBytesOut += this.#raw.bodyLength;
    const p = c.rw.writeRaw(this.#raw, headOnly, head.minor, !keepAlive);
    if (p === null) return keepAlive ? RAW_KEEP : RAW_CLOSE;
    c.setPhase(PHASE_WRITE);
    return this.#rawWritten(p, keepAlive);
  }

  async #rawWritten(p: Promise<void>, keepAlive: boolean): Promise<boolean> {
    try {
      await p;
    } catch (e) {
      this.#stats.writeErrors++;
      throw e;
    }
    return keepAlive;
  }

  /** Read one request's body framing, run the handler, write its response; true to go on. */
  async #handle(c: HttpConnection): Promise<boolean> {
    const head = c.head;
    const method = head.method;
    let mode = BODY_NONE;
    if (head.chunked) mode = BODY_CHUNKED;
    else if (head.contentLength > 0) mode = BODY_LENGTH;
    if (mode === BODY_LENGTH && head.contentLength > this.#cfg.maxBodyBytes) {
      await this.refuse(c, 413);
      return false;
    }
    const body = mode === BODY_NONE
      ? c.noBody
      : new BodyReader(c.reader, mode, head.contentLength, this.#cfg.maxBodyBytes);
    let continueSent = false;
    if (head.expectContinue && head.minor === 1 && mode !== BODY_NONE) {
      body.beforeFirstRead = () => {
        continueSent = true;
        return c.rw.writeHead("HTTP/1.1 100 Continue\r\n\r\n");
      };
    }
    const hasBody = mode !== BODY_NONE && method !== "GET" && method !== "HEAD";
    const request = this.#request(c, hasBody ? body : null);
    if (request === null) {
      await this.refuse(c, 400);
      return false;
    }
    this.#stats.requests++;
    c.setPhase(PHASE_HANDLER);
    c.bodyPending = !body.done;
    const info = new HandlerInfo(c);
    let out: Response | Promise<Response> | null = null;
    let thrown: unknown = null;
    try {
      out = this.#cfg.handler(request, info);
    } catch (e) {
      thrown = e;
    }
    return await this.#complete(c, info, body, out, thrown, () => continueSent);
  }

  /**
   * Run the handler on a request without a body and, when it returns a `Response` whose body
   * is a string or bytes, write that at once: {@link RAW_KEEP} or {@link RAW_CLOSE} then, no
   * promise made; anything else (a promise, a stream, a body to read, a refusal) continues
   * as a promise of whether the connection goes on.
   */
  handleNow(c: HttpConnection): number | Promise<boolean> {
    const head = c.head;
    if (head.chunked || head.contentLength > 0 || head.expectContinue) return this.#handle(c);
    const request = this.#request(c, null);
    if (request === null) return this.#handle(c); // refused there
    this.#stats.requests++;
    c.setPhase(PHASE_HANDLER);
    const info = new HandlerInfo(c);
    let out: Response | Promise<Response>;
    try {
      out = this.#cfg.handler(request, info);
    } catch (e) {
      return this.#complete(c, info, c.noBody, null, e, NOT_SENT);
    }
    if (!(out instanceof Response)) return this.#complete(c, info, c.noBody, out, null, NOT_SENT);
    c.setPhase(PHASE_WRITE);
    let now: WriteResult | Promise<WriteResult> | null;
    try {
      now = c.rw.writeNow(out, {
        head: head.method === "HEAD",
        minor: head.minor,
        keepAlive: head.keepAlive && !this.#cfg.closing(),
      });
    } catch (e) {
      return this.#written(info, c.noBody, Promise.reject(e));
    }
    if (now === null) return this.#complete(c, info, c.noBody, out, null, NOT_SENT);
    if (now instanceof Promise) return this.#written(info, c.noBody, now);
    this.#stats.bodyBytesOut += now.bodyBytes;
    info.settle();
    return now.close || this.#cfg.closing() ? RAW_CLOSE : RAW_KEEP;
  }

  /**
   * After the handler ran: wait for its answer (an exception becomes `onError`'s), write it;
   * true when the connection goes on. `continueSent` tells whether a 100 Continue went out.
   */
  async #complete(
    c: HttpConnection,
    info: HandlerInfo,
    body: BodyReader,
    out: Response | Promise<Response> | null,
    thrown: unknown,
    continueSent: () => boolean,
  ): Promise<boolean> {
    const head = c.head;
    let res: Response;
    try {
      if (out === null) throw thrown;
      res = out instanceof Response ? out : await out;
      if (!(res instanceof Response)) throw new TypeError("the handler did not return a Response");
    } catch (e) {
      res = await this.#errorResponse(e);
    }
    c.bodyPending = false;
    c.setPhase(PHASE_WRITE);
    let keepAlive = head.keepAlive && !this.#cfg.closing();
    if (body.error !== null || (!body.done && head.expectContinue && !continueSent())) {
      keepAlive = false; // the body's framing is lost, or the client may never send it
    }
    const written = c.rw.write(res, { head: head.method === "HEAD", minor: head.minor, keepAlive });
    return await this.#written(info, body, written);
  }

  /** The response is being written: count it, settle `info`; true when the connection goes on. */
  async #written(
    info: HandlerInfo,
    body: BodyReader,
    written: Promise<WriteResult>,
  ): Promise<boolean> {
    let result: WriteResult;
    try {
      result = await written;
    } catch (e) {
      this.#stats.writeErrors++;
      info.settle(e);
      throw e;
    }
    this.#stats.bodyBytesOut += result.bodyBytes;
    info.settle();
    if (result.close) return false;
    if (!body.done) return await body.discard(MAX_DRAIN_BYTES);
    return !this.#cfg.closing();
  }

  /**
   * The `Request` for the head just parsed (with `body` as a stream, if given): a lazy
   * one for a bodyless request whose URL needs no parsing, else a real one; null when the
   * request cannot be one (a target or host the URL parser refuses, a forbidden method).
   */
  #request(c: HttpConnection, body: BodyReader | null): Request | null {
    const head = c.head;
    const t = head.target;
    const method = head.method;
    const origin = t.charCodeAt(0) === 47; /* / */
    const host = origin ? head.host || this.#cfg.hostText() : "";
    if (
      body === null && origin && lazyRequestsWork && LAZY_METHODS.has(method) &&
      canonicalUrlParts(host, t)
    ) {
      const n = head.count;
      return new LazyRequest(host, t, method, head.names.slice(0, n), head.values.slice(0, n))
        .asRequest;
    }
    let url: string;
    if (origin) url = `http://${host}${t}`;
    else if (t.startsWith("http://") || t.startsWith("https://")) url = t;
    else return null;
    try {
      return new Request(url, {
        method,
        headers: head.pairs(),
        body: body === null ? null : body.stream(),
        // @ts-ignore: `duplex` is in the fetch standard, not yet in every RequestInit type
        duplex: "half",
      });
    } catch {
      return null;
    }
  }

  async #errorResponse(e: unknown): Promise<Response> {
    if (e instanceof HttpBodyError) {
      this.#stats.rejected++;
      const status = e.kind === "too-large" ? 413 : 400;
      return new Response(`${reasonPhrase(status)}\n`, { status });
    }
    this.#stats.handlerErrors++;
    try {
      return await this.#cfg.onError(e);
    } catch (e2) {
      return defaultOnError(e2);
    }
  }
}
