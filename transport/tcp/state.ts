/**
 * TCP connection states (RFC 9293 §3.3.2) as small integers, with Linux's names for display
 * (`ss` shows `ESTAB`, `SYN-SENT`, …; here the RFC spelling is used), the events that move a
 * connection between them, and the transition function: the whole state diagram in one
 * place. The endpoint applies it (`TcpEndpoint.transition`, with each state's entry actions).
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

/**
 * True in the states where our FIN is queued or sent and not yet acknowledged (FIN_WAIT_1,
 * CLOSING, LAST_ACK): the application closed, and data it wrote may still be on its way.
 */
export function awaitsFinAck(s: TcpState): boolean {
  return s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK;
}

/** True in the states where data may still be received from the peer (no FIN seen yet). */
export function canReceiveData(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2;
}

/**
 * What happens to a connection: the arcs of RFC 9293 §3.3.2 figure 5, named after its labels.
 * Callers report events; {@link nextState} says where each leads.
 */
export const TcpEvent = {
  /** The application connects: the SYN is queued (CLOSED → SYN_SENT). */
  CONNECT: 0,
  /** A SYN arrives: at a listener (a new connection, CLOSED → SYN_RECEIVED) or in SYN_SENT (simultaneous open). */
  RCV_SYN: 1,
  /** Our SYN is acknowledged: SYN_SENT or SYN_RECEIVED → ESTABLISHED. */
  RCV_ACK_OF_SYN: 2,
  /** The application shuts the write side, a FIN is queued: ESTABLISHED → FIN_WAIT_1, CLOSE_WAIT → LAST_ACK. */
  CLOSE: 3,
  /**
   * The peer's FIN is next in sequence: ESTABLISHED → CLOSE_WAIT, FIN_WAIT_1 → CLOSING,
   * FIN_WAIT_2 → TIME_WAIT; in TIME_WAIT it is a retransmission and restarts 2·MSL.
   */
  RCV_FIN: 4,
  /** Our FIN is acknowledged: FIN_WAIT_1 → FIN_WAIT_2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED. */
  RCV_ACK_OF_FIN: 5,
  /** The connection ends (reset received, aborted, timed out, 2·MSL over): any state → CLOSED. */
  DELETE_TCB: 6,
} as const;

/** One of the {@link TcpEvent} values. */
export type TcpEvent = typeof TcpEvent[keyof typeof TcpEvent];

/** {@link nextState}'s answer when an event does not move a connection in its state. */
export const NO_TRANSITION = -1;

/**
 * The state `event` leads to from `state` (RFC 9293 §3.3.2 figure 5), or
 * {@link NO_TRANSITION} when the event changes nothing there. A self-arc (TIME_WAIT on
 * RCV_FIN, CLOSED on DELETE_TCB) returns the state itself: its entry actions run again.
 *
 * One departure from the figure, as Linux does it: CLOSE in SYN_SENT/SYN_RECEIVED only queues
 * the FIN; it takes effect once ESTABLISHED. A FIN that arrives on the segment acknowledging
 * ours finds FIN_WAIT_2 (the ACK is processed first) and leads to TIME_WAIT, as §3.10.7.4
 * says.
 *
 * @example
 * ```ts
 * nextState(TcpState.ESTABLISHED, TcpEvent.RCV_FIN); // TcpState.CLOSE_WAIT
 * nextState(TcpState.CLOSE_WAIT, TcpEvent.RCV_FIN); // NO_TRANSITION
 * ```
 */
export function nextState(state: TcpState, event: TcpEvent): TcpState | typeof NO_TRANSITION {
  switch (event) {
    case TcpEvent.CONNECT:
      return state === TcpState.CLOSED ? TcpState.SYN_SENT : NO_TRANSITION;
    case TcpEvent.RCV_SYN:
      return state === TcpState.CLOSED || state === TcpState.SYN_SENT
        ? TcpState.SYN_RECEIVED
        : NO_TRANSITION;
    case TcpEvent.RCV_ACK_OF_SYN:
      return state === TcpState.SYN_SENT || state === TcpState.SYN_RECEIVED
        ? TcpState.ESTABLISHED
        : NO_TRANSITION;
    case TcpEvent.CLOSE:
      if (state === TcpState.ESTABLISHED) return TcpState.FIN_WAIT_1;
      return state === TcpState.CLOSE_WAIT ? TcpState.LAST_ACK : NO_TRANSITION;
    case TcpEvent.RCV_FIN:
      return afterFin(state);
    case TcpEvent.RCV_ACK_OF_FIN:
      return afterAckOfFin(state);
    case TcpEvent.DELETE_TCB:
      return TcpState.CLOSED;
    default:
      return NO_TRANSITION;
  }
}

/** RCV_FIN (RFC 9293 §3.10.7.4, eighth check). */
function afterFin(state: TcpState): TcpState | typeof NO_TRANSITION {
  switch (state) {
    case TcpState.ESTABLISHED:
      return TcpState.CLOSE_WAIT;
    case TcpState.FIN_WAIT_1:
      return TcpState.CLOSING;
    case TcpState.FIN_WAIT_2:
    case TcpState.TIME_WAIT:
      return TcpState.TIME_WAIT;
    default:
      return NO_TRANSITION;
  }
}

/** RCV_ACK_OF_FIN (RFC 9293 §3.10.7.4, fifth check). */
function afterAckOfFin(state: TcpState): TcpState | typeof NO_TRANSITION {
  switch (state) {
    case TcpState.FIN_WAIT_1:
      return TcpState.FIN_WAIT_2;
    case TcpState.CLOSING:
      return TcpState.TIME_WAIT;
    case TcpState.LAST_ACK:
      return TcpState.CLOSED;
    default:
      return NO_TRANSITION;
  }
}

/** True in the states counted by the `CurrEstab` counter (RFC 4022 tcpCurrEstab). */
export function countsAsEstablished(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT;
}
