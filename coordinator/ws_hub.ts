/**
 * The socket hub: leases pushed over WebSockets. A worker says hello with its capacity (free
 * slots); the hub keeps one long-poll claim open per socket for `capacity − held` tasks and
 * pushes each lease as soon as it is granted, so new work reaches an idle worker at once and a
 * worker never holds more than it announced. Heartbeat, complete, fail and release travel on the
 * socket under the same lease rules as HTTP. When a socket closes, its leases go back to pending
 * at once.
 *
 * Limits for anonymous sockets (no worker token or admin key): at most `maxSocketsPerAddress`
 * open per address (close 4002), and a token bucket per socket (`socketMessageRate`/s) and per
 * address (4× that): a sender over either gets an error message and close 4003. A socket whose
 * hello is accepted as a non-browser worker (workers are open) is no longer anonymous. Frames
 * larger than any valid message are refused like invalid ones.
 *
 * @module
 */
import {
  ClientMessage,
  CLOSE,
  type Lease,
  type ServerMessage,
  type Task,
  type WorkerKind,
} from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { ApiFailure, fieldName } from "./errors.ts";
import { finishMany } from "./finish_attempt.ts";
import { heartbeat } from "./heartbeat.ts";
import { donorStatKey } from "./keys.ts";
import { burstFor, RateLimiter, TokenBucket } from "./rate_limit.ts";
import type { WorkerRegistry } from "./workers.ts";

/** Who a socket is, decided at upgrade from its token (routes/ws.ts). */
export interface SocketAuth {
  /** The peer's address, for the per-address limits. */
  address: string;
  /** May say hello as a non-browser worker (the worker token, an admin key, or open workers). */
  worker: boolean;
  /** Presented the worker token or an admin key: not held to the anonymous limits. */
  trusted: boolean;
}

/** The part of a WebSocket the hub uses (the Deno socket, or a test double). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

interface Conn {
  socket: SocketLike;
  workerId: string | null;
  kind: WorkerKind;
  donorId: string | null;
  types: string[] | undefined;
  queues: string[] | undefined;
  capacity: number;
  /** leaseId → taskId of the leases this socket holds. */
  held: Map<string, string>;
  claim: AbortController | null;
  invalid: number;
  closed: boolean;
  /** We asked the socket to close: later messages are ignored. */
  shut: boolean;
  shutTimer: ReturnType<typeof setTimeout> | null;
  address: string;
  mayWork: boolean;
  /** Counted against its address and rate-limited (anonymous). */
  limited: boolean;
  bucket: TokenBucket | null;
  helloTimer: ReturnType<typeof setTimeout> | null;
}

const CLAIM_WAIT_MS = 25_000;
const HELLO_TIMEOUT_MS = 10_000;
const MAX_INVALID = 20;
/** Larger than any valid message (a result is at most 32 KiB of JSON). */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** An address's anonymous sockets share this many times one socket's message rate. */
const ADDRESS_RATE_FACTOR = 4;
const SHUT_DELAY_MS = 100;

function frameSize(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

export class WsHub {
  #ctx: Ctx;
  #dispatcher: Dispatcher;
  #workers: WorkerRegistry;
  #conns = new Set<Conn>();
  /** leaseId → socket holding it. */
  #byLease = new Map<string, Conn>();
  /** Running delivery loops and close handlers, awaited on shutdown. */
  #running = new Set<Promise<void>>();
  /** address → anonymous sockets open from it. */
  #anonymous = new Map<string, number>();
  #addressRate: RateLimiter | null;

  constructor(ctx: Ctx, dispatcher: Dispatcher, workers: WorkerRegistry) {
    this.#ctx = ctx;
    this.#dispatcher = dispatcher;
    this.#workers = workers;
    const rate = ctx.config.socketMessageRate * ADDRESS_RATE_FACTOR;
    this.#addressRate = rate > 0 ? new RateLimiter(rate, burstFor(rate), ctx.now) : null;
    ctx.signals.onLeaseEnded((leaseId, task) => this.#leaseEnded(leaseId, task));
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Anonymous sockets open from one address. */
  anonymousFrom(address: string): number {
    return this.#anonymous.get(address) ?? 0;
  }

  /**
   * Registers a new socket; returns the callbacks to wire to its events. An anonymous socket
   * over its address's limit is closed at once (4002).
   */
  open(
    socket: SocketLike,
    auth: SocketAuth,
  ): { message(data: unknown): void; close(): void } {
    const { maxSocketsPerAddress: max, socketMessageRate: rate } = this.#ctx.config;
    if (!auth.trusted && max > 0 && this.anonymousFrom(auth.address) >= max) {
      socket.close(
        CLOSE.tooManySockets,
        `too many sockets: at most ${max} without a token per address`,
      );
      return { message() {}, close() {} };
    }
    const conn: Conn = {
      socket,
      workerId: null,
      kind: "other",
      donorId: null,
      types: undefined,
      queues: undefined,
      capacity: 0,
      held: new Map(),
      claim: null,
      invalid: 0,
      closed: false,
      shut: false,
      shutTimer: null,
      address: auth.address,
      mayWork: auth.worker,
      limited: !auth.trusted,
      bucket: !auth.trusted && rate > 0
        ? new TokenBucket(rate, burstFor(rate), this.#ctx.now())
        : null,
      helloTimer: null,
    };
    if (conn.limited) this.#count(conn.address, 1);
    conn.helloTimer = setTimeout(() => {
      if (!conn.workerId) socket.close(CLOSE.badHello, "no hello within 10 s");
    }, HELLO_TIMEOUT_MS);
    this.#conns.add(conn);
    return {
      message: (data) => this.#track(this.#onMessage(conn, data)),
      close: () => this.#track(this.#onClose(conn)),
    };
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((e) =>
      this.#ctx.log.error("socket handler failed", { error: String(e) })
    )
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** Closes every socket (coordinator shutdown); their leases are released. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#conns].map(async (c) => {
      c.socket.close(CLOSE.shuttingDown, "coordinator shutting down");
      await this.#onClose(c);
    }));
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #send(conn: Conn, msg: ServerMessage): void {
    if (conn.closed) return;
    try {
      conn.socket.send(JSON.stringify(msg));
    } catch {
      // The socket is going away; its close handler releases the leases.
    }
  }

  #count(address: string, delta: 1 | -1): void {
    const n = (this.#anonymous.get(address) ?? 0) + delta;
    if (n > 0) this.#anonymous.set(address, n);
    else this.#anonymous.delete(address);
  }

  /** Stops counting a socket as anonymous (its hello was accepted as a worker). */
  #unlimit(conn: Conn): void {
    if (!conn.limited) return;
    conn.limited = false;
    conn.bucket = null;
    this.#count(conn.address, -1);
  }

  /**
   * Closes a socket we refuse. Messages it already sent are dropped; the close waits a moment so
   * that the frames still in flight are read first: closing with unread input resets the
   * connection, and the peer would never see the close code and reason.
   */
  #shut(conn: Conn, code: number, reason: string): void {
    if (conn.shut) return;
    conn.shut = true;
    conn.shutTimer = setTimeout(() => {
      try {
        conn.socket.close(code, reason);
      } catch { /* already gone */ }
    }, SHUT_DELAY_MS);
  }

  #refuse(conn: Conn, code: string, message: string, field?: string): void {
    this.#send(conn, { type: "error", code, message, ...(field ? { field } : {}) });
    if (++conn.invalid > MAX_INVALID) this.#shut(conn, CLOSE.protocol, "too many invalid messages");
  }

  /** Whether an anonymous socket (and its address) may send one more message now. */
  #withinRate(conn: Conn): boolean {
    if (!conn.limited || !conn.bucket) return true;
    if (conn.bucket.take(this.#ctx.now()) > 0) return false;
    return (this.#addressRate?.take(conn.address) ?? 0) === 0;
  }

  async #onMessage(conn: Conn, data: unknown): Promise<void> {
    if (conn.closed || conn.shut) return;
    if (!this.#withinRate(conn)) {
      const rate = this.#ctx.config.socketMessageRate;
      this.#send(conn, {
        type: "error",
        code: "rate_limited",
        message: `more than ${rate} messages per second (${
          rate * ADDRESS_RATE_FACTOR
        } per address) without a token`,
      });
      return this.#shut(conn, CLOSE.rateLimited, "too many messages");
    }
    if (frameSize(data) > MAX_MESSAGE_BYTES) {
      return this.#refuse(
        conn,
        "payload_too_large",
        `a message must be at most ${MAX_MESSAGE_BYTES} bytes`,
      );
    }
    let raw: unknown;
    try {
      raw = JSON.parse(
        typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer),
      );
    } catch {
      return this.#refuse(conn, "invalid_json", "message is not valid JSON");
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return this.#refuse(conn, "validation", issue.message, fieldName(issue.path) || undefined);
    }
    const msg = parsed.data;
    if (msg.type === "hello") {
      if (conn.workerId) return this.#refuse(conn, "validation", "hello was already said", "type");
      // Only anonymous volunteers may connect without the worker token, as kind browser.
      if (msg.kind !== "browser" && !conn.mayWork) {
        return this.#shut(
          conn,
          CLOSE.unauthorized,
          "a worker token is required for kind " + msg.kind,
        );
      }
      if (msg.kind !== "browser") this.#unlimit(conn);
      clearTimeout(conn.helloTimer!);
      conn.workerId = msg.workerId;
      conn.kind = msg.kind;
      conn.donorId = msg.donorId ?? null;
      conn.types = msg.types;
      conn.queues = msg.queues;
      conn.capacity = msg.slots;
      this.#workers.seen(msg.workerId, {
        kind: msg.kind,
        types: msg.types ?? [...this.#ctx.handlers.keys()],
        ...(msg.concurrency ? { concurrency: msg.concurrency } : {}),
      });
      this.#send(conn, { type: "welcome", workerId: msg.workerId, serverTime: this.#ctx.now() });
      return this.#track(this.#pump(conn));
    }
    if (!conn.workerId) {
      return this.#shut(conn, CLOSE.badHello, "the first message must be a hello");
    }
    this.#workers.seen(conn.workerId);
    switch (msg.type) {
      case "credit": {
        const lower = msg.slots < conn.capacity;
        conn.capacity = msg.slots;
        // A smaller capacity cancels the open claim, so no more than announced is pushed.
        if (lower) conn.claim?.abort();
        return this.#track(this.#pump(conn));
      }
      case "heartbeat": {
        if (!conn.held.has(msg.leaseId)) {
          return this.#ackRefused(conn, msg.ref, notHeld(msg.leaseId));
        }
        try {
          const { expiresAt } = await heartbeat(this.#ctx, msg.taskId, msg.leaseId, msg.progress);
          return this.#send(conn, { type: "ack", ref: msg.ref, ok: true, expiresAt });
        } catch (e) {
          return this.#ackRefused(conn, msg.ref, e);
        }
      }
      case "complete":
      case "fail":
      case "release": {
        if (!conn.held.has(msg.leaseId)) {
          return this.#ackRefused(conn, msg.ref, notHeld(msg.leaseId));
        }
        const outcome = msg.type === "complete"
          ? { kind: "completed" as const, result: msg.result ?? null }
          : msg.type === "fail"
          ? { kind: "failed" as const, error: msg.error }
          : { kind: "released" as const };
        // The worker's slot is free now, whatever becomes of the report: claim for it at once,
        // so the next lease shares a commit with this report instead of waiting for it.
        conn.held.delete(msg.leaseId);
        this.#byLease.delete(msg.leaseId);
        this.#track(this.#pump(conn));
        const [done] = await finishMany(this.#ctx, [{
          taskId: msg.taskId,
          leaseId: msg.leaseId,
          outcome,
        }]);
        if (!done!.ok) return this.#ackRefused(conn, msg.ref, done!.error);
        if (msg.type === "complete" && conn.donorId) this.#creditDonor(conn.donorId, msg.runMs);
        this.#send(conn, { type: "ack", ref: msg.ref, ok: true });
        return;
      }
    }
  }

  #ackRefused(conn: Conn, ref: number, e: unknown): void {
    if (!(e instanceof ApiFailure)) {
      this.#ctx.log.error("socket message failed", { error: String(e) });
      return this.#send(conn, {
        type: "ack",
        ref,
        ok: false,
        code: "internal",
        message: "internal error",
      });
    }
    this.#send(conn, { type: "ack", ref, ok: false, code: e.code, message: e.message });
  }

  #creditDonor(donorId: string, runMs: number | undefined): void {
    this.#ctx.committer.commit({
      checks: [],
      mutations: [],
      sums: [
        [donorStatKey(donorId, "completed"), 1n],
        [donorStatKey(donorId, "computeMs"), BigInt(Math.round(runMs ?? 0))],
      ],
    }).catch((e) => this.#ctx.log.warn("donor credit failed", { donorId, error: String(e) }));
  }

  /** Keeps one claim open for the socket's free slots; pushes what it gets. */
  async #pump(conn: Conn): Promise<void> {
    while (!conn.closed && conn.workerId && !conn.claim) {
      const free = conn.capacity - conn.held.size;
      if (free <= 0) return;
      const controller = new AbortController();
      conn.claim = controller;
      let leases: Lease[];
      try {
        leases = await this.#dispatcher.claim({
          workerId: conn.workerId,
          max: free,
          waitMs: CLAIM_WAIT_MS,
          types: conn.types,
          queues: conn.queues,
          donorId: conn.donorId,
          kind: conn.kind,
          signal: controller.signal,
        });
      } catch (e) {
        leases = [];
        if (conn.closed) break;
        this.#ctx.log.error("socket claim failed", { workerId: conn.workerId, error: String(e) });
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        conn.claim = null;
      }
      // Capacity may have dropped, or the socket closed, while the claim was open.
      const room = conn.closed ? 0 : Math.max(0, conn.capacity - conn.held.size);
      const keep = leases.slice(0, room);
      const giveBack = leases.slice(room);
      for (const l of keep) {
        conn.held.set(l.leaseId, l.taskId);
        this.#byLease.set(l.leaseId, conn);
        this.#send(conn, { type: "lease", lease: l });
      }
      if (giveBack.length > 0) {
        await finishMany(
          this.#ctx,
          giveBack.map((l) => ({
            taskId: l.taskId,
            leaseId: l.leaseId,
            outcome: { kind: "released" as const },
          })),
        );
      }
    }
  }

  #leaseEnded(leaseId: string, task: Task): void {
    const conn = this.#byLease.get(leaseId);
    if (!conn) return;
    this.#byLease.delete(leaseId);
    conn.held.delete(leaseId);
    // Ended by someone else (cancel, expiry): tell the holder to stop.
    if (task.status === "cancelled" || task.history.at(-1)?.outcome === "expired") {
      this.#send(conn, { type: "cancel", taskId: task.id, leaseId });
    }
    this.#track(this.#pump(conn));
  }

  async #onClose(conn: Conn): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    if (conn.limited) this.#count(conn.address, -1);
    clearTimeout(conn.helloTimer!);
    clearTimeout(conn.shutTimer!);
    conn.claim?.abort();
    this.#conns.delete(conn);
    const held = [...conn.held].map(([leaseId, taskId]) => ({ leaseId, taskId }));
    conn.held.clear();
    if (held.length === 0) return;
    const results = await finishMany(
      this.#ctx,
      held.map((h) => ({ ...h, outcome: { kind: "released" as const } })),
    );
    for (const h of held) this.#byLease.delete(h.leaseId);
    this.#ctx.log.info("socket closed: leases handed back", {
      workerId: conn.workerId,
      released: results.filter((r) => r.ok).length,
    });
  }
}

const notHeld = (leaseId: string) =>
  new ApiFailure("stale_lease", `lease ${leaseId} is not held by this socket`, "leaseId");
