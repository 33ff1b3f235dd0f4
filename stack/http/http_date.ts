/**
 * The `date` field's value (RFC 9110 §6.6.1), formatted once a second and shared by every
 * response of the process — as hyper and Linux's servers do — instead of once a response.
 *
 * @module
 */

let dateSecond = -1;
let dateText = "";

/**
 * The IMF-fixdate of now (RFC 9110 §5.6.7), recomputed once a second.
 *
 * @example
 * ```ts
 * httpDate(); // "Thu, 03 Dec 2026 12:00:00 GMT"
 * ```
 */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
