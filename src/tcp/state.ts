/**
 * TCP connection states, named as in RFC 9293 3.3.2.
 *
 * @module
 */

/** Connection states (RFC 9293 3.3.2). */
export const State = {
  closed: 0,
  listen: 1,
  synSent: 2,
  synReceived: 3,
  established: 4,
  finWait1: 5,
  finWait2: 6,
  closeWait: 7,
  closing: 8,
  lastAck: 9,
  timeWait: 10,
} as const;

/** One connection state. */
export type State = typeof State[keyof typeof State];

const names = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
] as const;

/** The RFC's name of a state: `SYN-RECEIVED`. */
export function stateName(s: State): string {
  return names[s];
}

/** Whether the state is synchronized: our SYN was acknowledged and theirs received (RFC 9293 3.5.2). */
export function isSynchronized(s: State): boolean {
  return s >= State.established;
}
