/**
 * Reading a Deno `Response` below its public API, where that saves most of the cost of a
 * small response: the static body (no stream) and the header list (no `Headers` object).
 * Each reader checks what it finds and answers "use the public API" (undefined or null) for
 * anything it does not recognise, so another Deno only loses the shortcut. A test checks
 * that this Deno still offers both and that they agree with the public API.
 *
 * @module
 */

/**
 * Deno keeps the body of a `Response` made from a string or bytes as bytes, not as a stream: in
 * an own property keyed by a symbol described "serve fast body" (a response made without an
 * init, what `Deno.serve` sends directly) or in the inner response's body
 * (`[Symbol(response)].body.streamOrStatic = { body, consumed }`). Reading the bytes from there
 * saves building a stream and several promise turns per response — most of the cost of a small
 * one. The keys are found at run time; the bytes are trusted only when nobody has read the body
 * (`bodyUsed` false, not consumed) and they are a string or a `Uint8Array`. Anything else —
 * another Deno, a stream, a Blob — takes the standard path. The fast body must be read before
 * `res.headers`, which materialises a lazy response and clears it. A test checks that this
 * Deno still offers both.
 */
let fastBodyKey: symbol | null | undefined;
let innerKey: symbol | null | undefined;

function findKey(res: Response, description: string): symbol | null {
  return Object.getOwnPropertySymbols(res).find((s) => s.description === description) ?? null;
}

/** The static body of `res` (string or bytes), or undefined when it must be streamed. */
export function staticBody(res: Response): string | Uint8Array | undefined {
  if (fastBodyKey === undefined) fastBodyKey = findKey(res, "serve fast body");
  if (innerKey === undefined) innerKey = findKey(res, "response");
  if (res.bodyUsed) return undefined;
  const r = res as unknown as Record<symbol, unknown>;
  if (fastBodyKey !== null) {
    const v = r[fastBodyKey];
    if (typeof v === "string" || v instanceof Uint8Array) return v;
  }
  if (innerKey !== null) {
    const inner = r[innerKey] as { body?: { streamOrStatic?: unknown } } | undefined;
    const st = inner?.body?.streamOrStatic as { body?: unknown; consumed?: unknown } | undefined;
    if (
      st !== undefined && st !== null && !(st instanceof ReadableStream) && st.consumed === false
    ) {
      const v = st.body;
      if (typeof v === "string" || v instanceof Uint8Array) return v;
    }
  }
  return undefined;
}

let headersKey: symbol | null | undefined;

/**
 * The header list of `res` as `[name, value]` pairs (names as given, maybe mixed case;
 * repeated names kept apart), read from Deno's inner response
 * (`[Symbol(response)].headerList`) without making the `Headers` object; null when that list
 * may be incomplete — a response made without an init keeps its content type aside in the
 * "serve fast" fields — or is not there: use `res.headers` then.
 */
export function fieldList(res: Response): [string, string][] | null {
  if (fastBodyKey === undefined) fastBodyKey = findKey(res, "serve fast body");
  if (innerKey === undefined) innerKey = findKey(res, "response");
  if (headersKey === undefined) headersKey = findKey(res, "headers");
  if (fastBodyKey === null || innerKey === null || headersKey === null) return null;
  const r = res as unknown as Record<symbol, unknown>;
  // A fast-form response (no init): its content type is not in the list.
  if (r[fastBodyKey] !== null) return null;
  const inner = r[innerKey] as { headerList?: unknown } | undefined;
  const list = inner?.headerList;
  return Array.isArray(list) ? list as [string, string][] : null;
}
