/**
 * One socket's state in the hub: who it is (decided at upgrade, then by its hello), what it may
 * take and what it holds. A record, not a class: the hub is where the behaviour lives.
 *
 * @module
 */
import type { WorkerKind } from "../../shared/protocol.ts";
import type { SocketAllowance } from "./socket_limits.ts";

/** Who a socket is, decided at upgrade from its token (routes/ws.ts). */
export interface SocketAuth {
  /** The peer's address, for the per-address limits. */
  address: string;
  /** May say hello as a non-browser worker (the worker token, an admin key, or open workers). */
  worker: boolean;
  /** Presented the worker token or an admin key: not held to the anonymous limits. */
  trusted: boolean;
  /** Its workers are the operator's own unless they say browser (auth.ts). */
  operator?: boolean;
}

/** The part of a WebSocket the hub uses (the Deno socket, or a test double). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Conn {
  socket: SocketLike;
  /** Set once the hello is accepted (after its leases are re-attached). */
  workerId: string | null;
  /** A hello arrived (it may still be re-attaching leases). */
  greeted: boolean;
  kind: WorkerKind;
  donorId: string | null;
  types: string[] | undefined;
  queues: string[] | undefined;
  capacity: number;
  /** leaseId → taskId of the leases this socket holds. */
  held: Map<string, string>;
  /** leaseId → when its `started` notice came. */
  started: Map<string, number>;
  operator: boolean;
  claim: AbortController | null;
  invalid: number;
  closed: boolean;
  /** We asked the socket to close: later messages are ignored. */
  shut: boolean;
  shutTimer: ReturnType<typeof setTimeout> | null;
  address: string;
  mayWork: boolean;
  /** Anonymous: counted against its address and rate-limited (null once trusted). */
  allowance: SocketAllowance | null;
  helloTimer: ReturnType<typeof setTimeout> | null;
}

/** A socket just opened: nothing said, nothing held. */
export function newConn(
  socket: SocketLike,
  auth: SocketAuth,
  allowance: SocketAllowance | null,
): Conn {
  return {
    socket,
    workerId: null,
    greeted: false,
    kind: "other",
    donorId: null,
    types: undefined,
    queues: undefined,
    capacity: 0,
    held: new Map(),
    started: new Map(),
    operator: auth.operator === true,
    claim: null,
    invalid: 0,
    closed: false,
    shut: false,
    shutTimer: null,
    address: auth.address,
    mayWork: auth.worker,
    allowance,
    helloTimer: null,
  };
}
