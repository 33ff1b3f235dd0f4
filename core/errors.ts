/**
 * Errors raised by the stack's API: every one carries a stable errno-style `code`
 * (`EAGAIN`, `EADDRINUSE`, …) so callers can branch on it the way they would in C.
 *
 * @module
 */

/** Error codes the stack raises (a subset of POSIX errno names). */
export type ErrnoCode =
  | "EACCES"
  | "EAGAIN"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EAFNOSUPPORT"
  | "EALREADY"
  | "EBADF"
  | "EBUSY"
  | "ECONNABORTED"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "EDESTADDRREQ"
  | "EEXIST"
  | "EHOSTUNREACH"
  | "EINPROGRESS"
  | "EINVAL"
  | "EISCONN"
  | "EMFILE"
  | "EMSGSIZE"
  | "ENETUNREACH"
  | "ENOBUFS"
  | "ENOENT"
  | "ENOPROTOOPT"
  | "ENOSPC"
  | "ENOTCONN"
  | "ENOTSUP"
  | "EOPNOTSUPP"
  | "EPERM"
  | "EPIPE"
  | "EPROTONOSUPPORT"
  | "ESHUTDOWN"
  | "ETIMEDOUT";

/**
 * An API error with an errno-style code.
 *
 * @example
 * ```ts
 * try {
 *   throw new StackError("EADDRINUSE", "bind: port 80 is in use");
 * } catch (e) {
 *   if (e instanceof StackError && e.code === "EADDRINUSE") console.log("busy");
 * }
 * ```
 */
export class StackError extends Error {
  /** The errno name. */
  readonly code: ErrnoCode;
  /** Make an error; the message should say which call failed and why. */
  constructor(code: ErrnoCode, message: string) {
    super(`${message} (${code})`);
    this.name = "StackError";
    this.code = code;
  }
}
