/**
 * TCP connection states (RFC 9293 §3.3.2) as small integers, with Linux's names for display
 * (`ss` shows `ESTAB`, `SYN-SENT`, …; here the RFC spelling is used).
 *
 * @module
 */

/** A connection state (RFC 9293 §3.3.2). */
export const TcpState = {
  /** No connection (before connect, or after the connection ended). */
  CLOSED: 0,
  /** Waiting for a connection request (listeners only). */
  LISTEN: 1,
  /** SYN sent, waiting for the matching SYN. */
  SYN_SENT: 2,
  /** SYN received and SYN sent, waiting for the ACK of our SYN. */
  SYN_RECEIVED: 3,
  /** Open: data flows both ways. */
  ESTABLISHED: 4,
  /** Our FIN sent, not yet acknowledged, peer's FIN not received. */
  FIN_WAIT_1: 5,
  /** Our FIN acknowledged, waiting for the peer's FIN. */
  FIN_WAIT_2: 6,
  /** Peer's FIN received, waiting for the application to close. */
  CLOSE_WAIT: 7,
  /** Both FINs sent (simultaneous close), waiting for the ACK of ours. */
  CLOSING: 8,
  /** Peer closed first and so did we: waiting for the ACK of our FIN. */
  LAST_ACK: 9,
  /** Both sides done: waiting 2·MSL for stray segments to die. */
  TIME_WAIT: 10,
} as const;

/** One of the {@link TcpState} values. */
export type TcpState = typeof TcpState[keyof typeof TcpState];

const NAMES: readonly string[] = [
  "CLOSED",
  "LISTEN",
  "SYN_SENT",
  "SYN_RECEIVED",
  "ESTABLISHED",
  "FIN_WAIT_1",
  "FIN_WAIT_2",
  "CLOSE_WAIT",
  "CLOSING",
  "LAST_ACK",
  "TIME_WAIT",
];

/**
 * The RFC name of a state.
 *
 * @example
 * ```ts
 * tcpStateName(TcpState.ESTABLISHED); // "ESTABLISHED"
 * ```
 */
export function tcpStateName(s: TcpState): string {
  return NAMES[s] ?? "UNKNOWN";
}

/**
 * True in the synchronized states (RFC 9293 §3.5.2: ESTABLISHED and later), where sequence
 * numbers of both sides are known.
 */
export function isSynchronized(s: TcpState): boolean {
  return s >= TcpState.ESTABLISHED;
}

/** True in the states where data may still be received from the peer (no FIN seen yet). */
export function canReceiveData(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2;
}
