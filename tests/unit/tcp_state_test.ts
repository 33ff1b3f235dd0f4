import assert from "node:assert/strict";
import {
  nextState,
  NO_TRANSITION,
  TcpEvent,
  TcpState,
  tcpStateName,
} from "../../transport/tcp/state.ts";

const S = TcpState;
const E = TcpEvent;

/** Every arc of RFC 9293 §3.3.2 figure 5 the endpoint takes, as [from, event, to]. */
const ARCS: [TcpState, TcpEvent, TcpState][] = [
  [S.CLOSED, E.CONNECT, S.SYN_SENT],
  [S.CLOSED, E.RCV_SYN, S.SYN_RECEIVED],
  [S.SYN_SENT, E.RCV_SYN, S.SYN_RECEIVED],
  [S.SYN_SENT, E.RCV_ACK_OF_SYN, S.ESTABLISHED],
  [S.SYN_RECEIVED, E.RCV_ACK_OF_SYN, S.ESTABLISHED],
  [S.ESTABLISHED, E.CLOSE, S.FIN_WAIT_1],
  [S.CLOSE_WAIT, E.CLOSE, S.LAST_ACK],
  [S.ESTABLISHED, E.RCV_FIN, S.CLOSE_WAIT],
  [S.FIN_WAIT_1, E.RCV_FIN, S.CLOSING],
  [S.FIN_WAIT_2, E.RCV_FIN, S.TIME_WAIT],
  [S.TIME_WAIT, E.RCV_FIN, S.TIME_WAIT],
  [S.FIN_WAIT_1, E.RCV_ACK_OF_FIN, S.FIN_WAIT_2],
  [S.CLOSING, E.RCV_ACK_OF_FIN, S.TIME_WAIT],
  [S.LAST_ACK, E.RCV_ACK_OF_FIN, S.CLOSED],
];

Deno.test("tcp state: every arc of the diagram, and no other, moves a connection", () => {
  const states = Object.values(TcpState) as TcpState[];
  const events = Object.values(TcpEvent) as TcpEvent[];
  for (const from of states) {
    for (const ev of events) {
      const arc = ARCS.find(([f, e]) => f === from && e === ev);
      let want: number = arc !== undefined ? arc[2] : NO_TRANSITION;
      if (ev === E.DELETE_TCB) want = S.CLOSED;
      assert.equal(nextState(from, ev), want, `${tcpStateName(from)} on event ${ev}`);
    }
  }
});

Deno.test("tcp state: CLOSE during the handshake only queues the FIN (Linux)", () => {
  assert.equal(nextState(S.SYN_SENT, E.CLOSE), NO_TRANSITION);
  assert.equal(nextState(S.SYN_RECEIVED, E.CLOSE), NO_TRANSITION);
  assert.equal(nextState(S.TIME_WAIT, E.CLOSE), NO_TRANSITION);
});
