/**
 * The `Request` a fetch handler gets for a request without a body, made lazily: `method`,
 * `url`, `headers`, `body` (null) and `bodyUsed` (false) are answered from the parsed head —
 * a handler that routes on method and path never pays for a `Request`, its `Headers` and
 * the URL parse Deno's constructor runs — and anything else builds the real `Request` once
 * and forwards to it.
 *
 * The object is a `Request` to its callers: its prototype chain runs through
 * `Request.prototype` (`instanceof Request` holds), and the internal slots Deno's own code
 * reads (`[Symbol(request)]`, `[Symbol(headers)]`, its brand, …; found at run time as the
 * own symbol-keyed properties of a sample `Request`) are accessors that build the real one
 * and read or write its slots — so `clone()`, `text()`, `fetch(req)` and `new Request(req)`
 * work unchanged. {@link lazyRequestsWork} checks all that at start-up; when it fails (another
 * Deno) the server builds every `Request` eagerly, as before.
 *
 * The URL is taken as it came only when it is already in the form the URL parser would give
 * (a lowercase host name or dotted-quad, a port other than 80, a path without dot segments
 * and with no byte the parser escapes): anything else goes through the real `Request`, so
 * `req.url` is always what `Deno.serve` would show.
 *
 * @module
 */

/** Request-target bytes kept as they are by the URL serializer (path and query). */
const URL_SAFE = new Uint8Array(128);
for (
  const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@/?"
) {
  URL_SAFE[c.charCodeAt(0)] = 1;
}

/** Host-name bytes that need no lowercasing or IDNA (RFC 3986 reg-name, lowercase). */
const HOST_SAFE = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyz0123456789-.") HOST_SAFE[c.charCodeAt(0)] = 1;

/** `target` (origin-form) is what the URL serializer would print for it. */
function targetIsCanonical(target: string): boolean {
  if (target.charCodeAt(0) !== 47 /* / */) return false;
  let prev = 0;
  let inQuery = false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || URL_SAFE[c] === 0) return false;
    if (c === 63 /* ? */) inQuery = true;
    // A dot segment of the path ("/." then "/", ".", "?" or the end) is resolved by the parser.
    if (!inQuery && c === 46 /* . */ && prev === 47) {
      const n = target.charCodeAt(i + 1);
      if (n !== n || n === 47 || n === 46 || n === 63) return false;
    }
    prev = c;
  }
  return true;
}

/** `d.d.d.d` with each part 0–255 and no leading zero. */
function isDottedQuad(h: string, end: number): boolean {
  let parts = 0;
  let i = 0;
  while (i < end) {
    const start = i;
    let v = 0;
    while (i < end) {
      const d = h.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && h.charCodeAt(start) === 48)) return false;
    parts++;
    if (i === end) break;
    if (h.charCodeAt(i) !== 46) return false;
    i++;
  }
  return parts === 4 && h.charCodeAt(end - 1) !== 46;
}

/** `host` (a Host field value) is what the URL serializer would print for it. */
function hostIsCanonical(host: string): boolean {
  let end = host.length;
  const colon = host.indexOf(":");
  if (colon >= 0) {
    const port = host.slice(colon + 1);
    if (port.length === 0 || port.length > 5 || port === "80" || port.charCodeAt(0) === 48) {
      return false;
    }
    for (let i = 0; i < port.length; i++) {
      const d = port.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return false;
    }
    if (Number(port) > 65535) return false;
    end = colon;
  }
  if (end === 0) return false;
  let lastLabel = 0;
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c >= 128 || HOST_SAFE[c] === 0) return false;
    if (c === 46) lastLabel = i + 1;
  }
  if (lastLabel >= end) return false; // a trailing dot
  const first = host.charCodeAt(lastLabel);
  // A last label that starts with a digit makes the parser read the host as IPv4.
  if (first >= 48 && first <= 57) return isDottedQuad(host, end);
  return true;
}

/**
 * `http://${host}${target}` can be used as the URL without parsing it (see the module
 * documentation); false means: build the `Request`, let its URL parser decide.
 */
export function canonicalUrlParts(host: string, target: string): boolean {
  return targetIsCanonical(target) && hostIsCanonical(host);
}

/** The own symbol-keyed slots of this Deno's `Request` objects. */
const SLOT_KEYS: symbol[] = Object.getOwnPropertySymbols(new Request("http://a/"));

/**
 * A bodyless request that becomes a real `Request` only when something needs one (see the
 * module documentation). Hand it out as `Request` (`asRequest`).
 */
export class LazyRequest {
  readonly #host: string;
  readonly #target: string;
  readonly #method: string;
  readonly #names: string[];
  readonly #values: string[];
  #url: string | null = null;
  #headers: Headers | null = null;
  #real: Request | null = null;

  /**
   * A request for `http://host` + `target` (both canonical: {@link canonicalUrlParts}) with
   * the fields `names[i]: values[i]` (arrays the request keeps).
   */
  constructor(host: string, target: string, method: string, names: string[], values: string[]) {
    this.#host = host;
    this.#target = target;
    this.#method = method;
    this.#names = names;
    this.#values = values;
  }

  /** This object as the `Request` it stands for. */
  get asRequest(): Request {
    return this as unknown as Request;
  }

  /** The request URL. */
  get url(): string {
    return this.#url ??= `http://${this.#host}${this.#target}`;
  }

  /** The request method. */
  get method(): string {
    return this.#method;
  }

  /** The request's header fields (made on first use; the same object every time). */
  get headers(): Headers {
    if (this.#headers === null) {
      const h = this.#real !== null ? this.#real.headers : new Headers();
      if (this.#real === null) {
        for (let i = 0; i < this.#names.length; i++) h.append(this.#names[i], this.#values[i]);
      }
      this.#headers = h;
    }
    return this.#headers;
  }

  /** No body. */
  get body(): ReadableStream<Uint8Array> | null {
    return this.#real !== null ? this.#real.body : null;
  }

  /** False until the real request's (empty) body is read. */
  get bodyUsed(): boolean {
    return this.#real !== null ? this.#real.bodyUsed : false;
  }

  /** The real `Request`, built on first need. */
  #materialize(): Request {
    if (this.#real === null) {
      let init: HeadersInit;
      if (this.#headers !== null) init = this.#headers;
      else {
        const pairs: [string, string][] = new Array(this.#names.length);
        for (let i = 0; i < pairs.length; i++) pairs[i] = [this.#names[i], this.#values[i]];
        init = pairs;
      }
      this.#real = new Request(this.url, { method: this.#method, headers: init });
    }
    return this.#real;
  }

  static {
    Object.setPrototypeOf(LazyRequest.prototype, Request.prototype);
    Object.defineProperty(LazyRequest, "name", { value: "Request" }); // as inspect shows it
    for (const key of SLOT_KEYS) {
      Object.defineProperty(LazyRequest.prototype, key, {
        get(this: LazyRequest) {
          return (this.#materialize() as unknown as Record<symbol, unknown>)[key];
        },
        set(this: LazyRequest, v: unknown) {
          (this.#materialize() as unknown as Record<symbol, unknown>)[key] = v;
        },
      });
    }
  }
}

/**
 * This Deno's `Request` can be stood in for (checked once): a lazy request passes for one
 * with Deno's own code (`new Request(req)`, `clone()`, brand checks).
 */
export const lazyRequestsWork: boolean = (() => {
  try {
    const lazy = new LazyRequest("a.test", "/x?y", "GET", ["x-a"], ["1"]).asRequest;
    const copy = new Request(lazy);
    const clone = lazy.clone();
    return lazy instanceof Request && copy.url === "http://a.test/x?y" &&
      clone.headers.get("x-a") === "1" && copy.method === "GET" &&
      Object.prototype.toString.call(lazy) === "[object Request]";
  } catch {
    return false;
  }
})();
