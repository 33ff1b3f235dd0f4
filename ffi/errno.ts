/**
 * Linux x86-64 errno numbers, their names and messages, and {@link SyscallError}, the error
 * every throwing wrapper in `ffi/` raises.
 *
 * Numbers follow the kernel's `asm-generic/errno-base.h` and `asm-generic/errno.h`; messages
 * are the usual C library wording. Numbers 41 and 58 are unassigned on Linux (their old names
 * are aliases: `EWOULDBLOCK` = `EAGAIN`, `EDEADLOCK` = `EDEADLK`); they format as `E41`/`E58`.
 *
 * @module
 */

/** errno 1..133 as `[name, message]`; index = errno. Index 0 is "no error". */
const ERRNO_TABLE: ReadonlyArray<readonly [string, string]> = [
  ["OK", "Success"],
  ["EPERM", "Operation not permitted"],
  ["ENOENT", "No such file or directory"],
  ["ESRCH", "No such process"],
  ["EINTR", "Interrupted system call"],
  ["EIO", "Input/output error"],
  ["ENXIO", "No such device or address"],
  ["E2BIG", "Argument list too long"],
  ["ENOEXEC", "Exec format error"],
  ["EBADF", "Bad file descriptor"],
  ["ECHILD", "No child processes"], // 10
  ["EAGAIN", "Resource temporarily unavailable"],
  ["ENOMEM", "Cannot allocate memory"],
  ["EACCES", "Permission denied"],
  ["EFAULT", "Bad address"],
  ["ENOTBLK", "Block device required"],
  ["EBUSY", "Device or resource busy"],
  ["EEXIST", "File exists"],
  ["EXDEV", "Invalid cross-device link"],
  ["ENODEV", "No such device"],
  ["ENOTDIR", "Not a directory"], // 20
  ["EISDIR", "Is a directory"],
  ["EINVAL", "Invalid argument"],
  ["ENFILE", "Too many open files in system"],
  ["EMFILE", "Too many open files"],
  ["ENOTTY", "Inappropriate ioctl for device"],
  ["ETXTBSY", "Text file busy"],
  ["EFBIG", "File too large"],
  ["ENOSPC", "No space left on device"],
  ["ESPIPE", "Illegal seek"],
  ["EROFS", "Read-only file system"], // 30
  ["EMLINK", "Too many links"],
  ["EPIPE", "Broken pipe"],
  ["EDOM", "Numerical argument out of domain"],
  ["ERANGE", "Numerical result out of range"],
  ["EDEADLK", "Resource deadlock avoided"],
  ["ENAMETOOLONG", "File name too long"],
  ["ENOLCK", "No locks available"],
  ["ENOSYS", "Function not implemented"],
  ["ENOTEMPTY", "Directory not empty"],
  ["ELOOP", "Too many levels of symbolic links"], // 40
  ["E41", "Unknown error 41"],
  ["ENOMSG", "No message of desired type"],
  ["EIDRM", "Identifier removed"],
  ["ECHRNG", "Channel number out of range"],
  ["EL2NSYNC", "Level 2 not synchronized"],
  ["EL3HLT", "Level 3 halted"],
  ["EL3RST", "Level 3 reset"],
  ["ELNRNG", "Link number out of range"],
  ["EUNATCH", "Protocol driver not attached"],
  ["ENOCSI", "No CSI structure available"], // 50
  ["EL2HLT", "Level 2 halted"],
  ["EBADE", "Invalid exchange"],
  ["EBADR", "Invalid request descriptor"],
  ["EXFULL", "Exchange full"],
  ["ENOANO", "No anode"],
  ["EBADRQC", "Invalid request code"],
  ["EBADSLT", "Invalid slot"],
  ["E58", "Unknown error 58"],
  ["EBFONT", "Bad font file format"],
  ["ENOSTR", "Device not a stream"], // 60
  ["ENODATA", "No data available"],
  ["ETIME", "Timer expired"],
  ["ENOSR", "Out of streams resources"],
  ["ENONET", "Machine is not on the network"],
  ["ENOPKG", "Package not installed"],
  ["EREMOTE", "Object is remote"],
  ["ENOLINK", "Link has been severed"],
  ["EADV", "Advertise error"],
  ["ESRMNT", "Srmount error"],
  ["ECOMM", "Communication error on send"], // 70
  ["EPROTO", "Protocol error"],
  ["EMULTIHOP", "Multihop attempted"],
  ["EDOTDOT", "RFS specific error"],
  ["EBADMSG", "Bad message"],
  ["EOVERFLOW", "Value too large for defined data type"],
  ["ENOTUNIQ", "Name not unique on network"],
  ["EBADFD", "File descriptor in bad state"],
  ["EREMCHG", "Remote address changed"],
  ["ELIBACC", "Can not access a needed shared library"],
  ["ELIBBAD", "Accessing a corrupted shared library"], // 80
  ["ELIBSCN", ".lib section in a.out corrupted"],
  ["ELIBMAX", "Attempting to link in too many shared libraries"],
  ["ELIBEXEC", "Cannot exec a shared library directly"],
  ["EILSEQ", "Invalid or incomplete multibyte or wide character"],
  ["ERESTART", "Interrupted system call should be restarted"],
  ["ESTRPIPE", "Streams pipe error"],
  ["EUSERS", "Too many users"],
  ["ENOTSOCK", "Socket operation on non-socket"],
  ["EDESTADDRREQ", "Destination address required"],
  ["EMSGSIZE", "Message too long"], // 90
  ["EPROTOTYPE", "Protocol wrong type for socket"],
  ["ENOPROTOOPT", "Protocol not available"],
  ["EPROTONOSUPPORT", "Protocol not supported"],
  ["ESOCKTNOSUPPORT", "Socket type not supported"],
  ["EOPNOTSUPP", "Operation not supported"],
  ["EPFNOSUPPORT", "Protocol family not supported"],
  ["EAFNOSUPPORT", "Address family not supported by protocol"],
  ["EADDRINUSE", "Address already in use"],
  ["EADDRNOTAVAIL", "Cannot assign requested address"],
  ["ENETDOWN", "Network is down"], // 100
  ["ENETUNREACH", "Network is unreachable"],
  ["ENETRESET", "Network dropped connection on reset"],
  ["ECONNABORTED", "Software caused connection abort"],
  ["ECONNRESET", "Connection reset by peer"],
  ["ENOBUFS", "No buffer space available"],
  ["EISCONN", "Transport endpoint is already connected"],
  ["ENOTCONN", "Transport endpoint is not connected"],
  ["ESHUTDOWN", "Cannot send after transport endpoint shutdown"],
  ["ETOOMANYREFS", "Too many references: cannot splice"],
  ["ETIMEDOUT", "Connection timed out"], // 110
  ["ECONNREFUSED", "Connection refused"],
  ["EHOSTDOWN", "Host is down"],
  ["EHOSTUNREACH", "No route to host"],
  ["EALREADY", "Operation already in progress"],
  ["EINPROGRESS", "Operation now in progress"],
  ["ESTALE", "Stale file handle"],
  ["EUCLEAN", "Structure needs cleaning"],
  ["ENOTNAM", "Not a XENIX named type file"],
  ["ENAVAIL", "No XENIX semaphores available"],
  ["EISNAM", "Is a named type file"], // 120
  ["EREMOTEIO", "Remote I/O error"],
  ["EDQUOT", "Disk quota exceeded"],
  ["ENOMEDIUM", "No medium found"],
  ["EMEDIUMTYPE", "Wrong medium type"],
  ["ECANCELED", "Operation canceled"],
  ["ENOKEY", "Required key not available"],
  ["EKEYEXPIRED", "Key has expired"],
  ["EKEYREVOKED", "Key has been revoked"],
  ["EKEYREJECTED", "Key was rejected by service"],
  ["EOWNERDEAD", "Owner died"], // 130
  ["ENOTRECOVERABLE", "State not recoverable"],
  ["ERFKILL", "Operation not possible due to RF-kill"],
  ["EHWPOISON", "Memory page has hardware error"],
];

/** Largest errno with a name in the table (`EHWPOISON`). */
export const ERRNO_MAX = ERRNO_TABLE.length - 1;

/** Names that are aliases of another number on Linux x86-64. */
const ERRNO_ALIASES: Readonly<Record<string, number>> = {
  EWOULDBLOCK: 11,
  EDEADLOCK: 35,
  ENOTSUP: 95,
};

// Common errno numbers as constants, for hot-path comparisons with a negated return
// (`r === -EAGAIN`).

/** Operation not permitted. */
export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** Interrupted system call. */
export const EINTR = 4;
/** Bad file descriptor. */
export const EBADF = 9;
/** Try again (`EWOULDBLOCK`). */
export const EAGAIN = 11;
/** Permission denied. */
export const EACCES = 13;
/** Device or resource busy. */
export const EBUSY = 16;
/** No such device. */
export const ENODEV = 19;
/** Invalid argument. */
export const EINVAL = 22;
/** Message too long. */
export const EMSGSIZE = 90;
/** Operation not supported. */
export const EOPNOTSUPP = 95;
/** Address family not supported by protocol. */
export const EAFNOSUPPORT = 97;
/** Network is down. */
export const ENETDOWN = 100;
/** No buffer space available. */
export const ENOBUFS = 105;

/**
 * The errno name for a number (`11` → `"EAGAIN"`); unknown numbers give `"E<n>"`.
 *
 * @example
 * ```ts
 * errnoName(1); // "EPERM"
 * ```
 */
export function errnoName(errno: number): string {
  const entry = ERRNO_TABLE[errno];
  return entry === undefined ? `E${errno}` : entry[0];
}

/**
 * The human-readable message for an errno (`1` → `"Operation not permitted"`).
 *
 * @example
 * ```ts
 * errnoMessage(13); // "Permission denied"
 * ```
 */
export function errnoMessage(errno: number): string {
  const entry = ERRNO_TABLE[errno];
  return entry === undefined ? `Unknown error ${errno}` : entry[1];
}

/**
 * The number for an errno name, aliases included (`"EWOULDBLOCK"` → 11); `undefined` if unknown.
 *
 * @example
 * ```ts
 * errnoNumber("ECONNREFUSED"); // 111
 * ```
 */
export function errnoNumber(name: string): number | undefined {
  const alias = ERRNO_ALIASES[name];
  if (alias !== undefined) return alias;
  for (let i = 1; i < ERRNO_TABLE.length; i++) {
    if (ERRNO_TABLE[i][0] === name) return i;
  }
  return undefined;
}

/**
 * A failed system call. `code` is the errno name, so callers can branch on it:
 *
 * @example
 * ```ts
 * try {
 *   socket(17, 3, 0);
 * } catch (e) {
 *   if (e instanceof SyscallError && e.code === "EPERM") console.error("need CAP_NET_RAW");
 * }
 * ```
 */
export class SyscallError extends Error {
  /** The errno number (positive). */
  readonly errno: number;
  /** The errno name, e.g. `"EPERM"`. */
  readonly code: string;
  /** The call that failed, e.g. `"socket"`. */
  readonly syscall: string;
  /** What the message adds after the errno (the interface, option or hint), if anything. */
  readonly detail: string | undefined;

  /**
   * `syscall` failed with `errno`; `detail` (optional) is appended to the message:
   * `"socket: EPERM (Operation not permitted): AF_PACKET needs CAP_NET_RAW"`.
   */
  constructor(syscall: string, errno: number, detail?: string) {
    const base = `${syscall}: ${errnoName(errno)} (${errnoMessage(errno)})`;
    super(detail === undefined ? base : `${base}: ${detail}`);
    this.name = "SyscallError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.syscall = syscall;
    this.detail = detail;
  }
}
