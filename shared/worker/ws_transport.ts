/**
 * The WebSocket transport: leases are pushed by the coordinator as soon as work exists, within
 * the capacity this worker announced (credit-based flow control); heartbeats and reports travel
 * on the same socket. Reconnects with exponential backoff and jitter. Universal: only the
 * standard `WebSocket` and `fetch`, so it runs in Deno and in browser Web Workers.
 *
 * - A reconnecting worker names in its hello every lease it still holds (running, waiting in the
 *   buffer, or with a report on its way); the coordinator re-attaches those KV still holds for
 *   it, so a coordinator restart costs seconds, not a lease period. Those it refuses are dropped
 *   (buffered) or reported through `onCancel` (running): their results would be discarded.
 * - Capacity 0 (a draining or paused worker) hands back at once every lease not yet taken by the
 *   core, and any that was already on its way.
 * - A socket closed with 4001 (token refused, or none while one is required) is final: every
 *   call then fails with a `TransportError` of kind `unauthorized`.
 *
 * Health and token checks go over HTTP (`createHttpTransport`), which a socket cannot answer
 * before it exists.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import { createHttpTransport } from "./http_transport.ts";
import {
  CLOSE,
  knownErrorCode,
  type Lease,
  PROTOCOL_VERSION,
  ServerMessage,
  type TaskError,
  type WorkerKind,
} from "../protocol.ts";
import {
  type ClaimOptions,
  type HeartbeatOutcome,
  type ReportOutcome,
  type Transport,
  TransportError,
} from "./transport.ts";

export interface WsTransportOptions {
  /** Coordinator base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  workerId: string;
  kind: WorkerKind;
  /** Leases this worker can hold at once: the credit announced to the coordinator. */
  capacity: number;
  /** Tasks it runs at once, shown on the dashboard. @default capacity */
  concurrency?: number;
  token?: string | undefined;
  types?: readonly string[] | undefined;
  queues?: readonly string[] | undefined;
  /** Browser volunteers' stable id, for their totals. */
  donorId?: string | undefined;
  /** Called with every connection state change, for a status line. */
  onStatus?: (status: "connecting" | "open" | "closed") => void;
  /**
   * Called when a held task must stop: the coordinator says it was cancelled or its lease
   * expired (`cancelled`), or it refused to re-attach the lease after a reconnect (`stale`).
   */
  onCancel?: (taskId: string, leaseId: string, reason: "cancelled" | "stale") => void;
  /**
   * The coordinator closed the socket because this worker speaks another protocol version
   * (`CLOSE.outdated`); the transport stays closed. `message` says what to do.
   */
  onOutdated?: (message: string) => void;
  /** A reply not received within this time fails the call as a network error. @default 15000 */
  replyTimeoutMs?: number;
  /** For tests and for runtimes without a global WebSocket. */
  WebSocket?: typeof WebSocket;
}

/** The socket transport adds to {@link Transport}: change capacity, and close. */
export interface WsTransport extends Transport {
  /**
   * New capacity. 0 pauses delivery and hands back the leases not yet claimed; leases the core
   * claimed are unaffected.
   */
  setCapacity(slots: number): void;
  /** Closes the socket for good; the coordinator hands back whatever it still holds. */
  close(): void;
  readonly connected: boolean;
  /** How long the coordinator takes to answer a message (moving average); null before one. */
  readonly roundTripMs: number | null;
}

type Ack = Extract<ServerMessage, { type: "ack" }>;

/** Reconnects: 250 ms, doubling to 5 s (a restarted coordinator is back within seconds). */
const RECONNECT = { baseMs: 250, maxMs: 5_000 };
/** A lease that waited this long for a free slot gets a start notice. */
const NOTICE_AFTER_MS = 50;

export function createWsTransport(options: WsTransportOptions): WsTransport {
  const http = createHttpTransport({
    url: options.url,
    workerId: options.workerId,
    token: options.token,
    kind: options.kind,
  });
  const Socket = options.WebSocket ?? WebSocket;
  // Several coordinators on one store (comma-separated): a socket that closes reconnects to the
  // next one, and re-attaches its leases there (the lease in KV is the truth, wherever it is read).
  const wsUrls = options.url.split(",").map((u) => u.trim()).filter(Boolean).map((u) =>
    u.replace(/\/+$/, "").replace(/\/api$/, "").replace(/^http/, "ws") + "/api/ws" +
    (options.token ? `?token=${encodeURIComponent(options.token)}` : "")
  );
  let current = 0;
  const replyTimeoutMs = options.replyTimeoutMs ?? 15_000;

  let socket: WebSocket | null = null;
  let open = false;
  let closedForGood = false;
  let failures = 0;
  let capacity = options.capacity;
  let nextRef = 0;
  let roundTripMs: number | null = null;
  /** Set when the coordinator refused this worker (close 4001): final. */
  let refusal: TransportError | null = null;
  const buffered: Lease[] = [];
  /**
   * leaseId → taskId of every lease the coordinator gave us and has not yet answered a report
   * of: what a new socket asks to re-attach.
   */
  const held = new Map<string, string>();
  /** leaseId → when it was pushed to us, to tell a prefetched lease from one run at once. */
  const arrived = new Map<string, number>();
  const claimWaiters = new Set<() => void>();
  const pending = new Map<number, { resolve(a: Ack): void; reject(e: unknown): void }>();
  const openWaiters = new Set<() => void>();

  const wakeClaims = () => {
    for (const w of [...claimWaiters]) w();
  };

  function connect(): void {
    if (closedForGood) return;
    options.onStatus?.("connecting");
    const ws = new Socket(wsUrls[current]);
    socket = ws;
    ws.onopen = () => {
      const leases = [...held].map(([leaseId, taskId]) => ({ taskId, leaseId }));
      ws.send(JSON.stringify({
        type: "hello",
        protocol: PROTOCOL_VERSION,
        workerId: options.workerId,
        kind: options.kind,
        slots: capacity,
        concurrency: options.concurrency ?? options.capacity,
        ...(options.types?.length ? { types: [...options.types] } : {}),
        ...(options.queues?.length ? { queues: [...options.queues] } : {}),
        ...(options.donorId ? { donorId: options.donorId } : {}),
        ...(leases.length > 0 ? { leases } : {}),
      }));
    };
    ws.onmessage = (e) => {
      let msg: ServerMessage;
      try {
        msg = ServerMessage.parse(JSON.parse(String(e.data)));
      } catch {
        return; // A message from a newer coordinator we do not understand: ignore it.
      }
      switch (msg.type) {
        case "welcome":
          for (const leaseId of msg.refused ?? []) dropLease(leaseId, "stale");
          open = true;
          failures = 0;
          options.onStatus?.("open");
          for (const w of [...openWaiters]) w();
          return;
        case "lease":
          held.set(msg.lease.leaseId, msg.lease.taskId);
          arrived.set(msg.lease.leaseId, Date.now());
          if (capacity === 0) return void handBack(msg.lease);
          buffered.push(msg.lease);
          keepAlive(msg.lease);
          return wakeClaims();
        case "ack": {
          const p = pending.get(msg.ref);
          pending.delete(msg.ref);
          return p?.resolve(msg);
        }
        case "cancel":
          arrived.delete(msg.leaseId);
          return dropLease(msg.leaseId, "cancelled");
        case "error":
          return;
      }
    };
    ws.onclose = (e: CloseEvent) => {
      if (socket === ws) socket = null;
      open = false;
      if (e.code === CLOSE.outdated) {
        closedForGood = true;
        stopKeepAlives();
        options.onOutdated?.(e.reason || "the coordinator speaks another protocol version");
        for (const w of [...openWaiters]) w();
      }
      if (e.code === CLOSE.unauthorized) {
        refusal = new TransportError(
          "unauthorized",
          e.reason || "the coordinator refused this worker",
          { status: 401 },
        );
        closedForGood = true;
        stopKeepAlives();
        for (const w of [...openWaiters]) w();
      }
      // Buffered leases are kept: the next hello asks to re-attach them with the others.
      for (const p of pending.values()) {
        p.reject(refusal ?? new TransportError("network", "socket closed before the reply"));
      }
      pending.clear();
      options.onStatus?.("closed");
      wakeClaims();
      if (closedForGood) return;
      if (wsUrls.length > 1) {
        // Another coordinator is likely up: try it at once, and back off only once all were tried.
        current = (current + 1) % wsUrls.length;
        const delay = failures++ < wsUrls.length
          ? 0
          : backoffDelay(failures - wsUrls.length + 1, RECONNECT);
        setTimeout(connect, delay);
        return;
      }
      const delay = backoffDelay(++failures, RECONNECT);
      setTimeout(connect, delay);
    };
    ws.onerror = () => {/* onclose follows */};
  }

  function whenOpen(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (open) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        openWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve(open);
      };
      const timer = setTimeout(done, ms);
      openWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Forgets a lease the coordinator ended or refused; a running one is stopped. */
  function dropLease(leaseId: string, reason: "cancelled" | "stale"): void {
    const taskId = held.get(leaseId);
    held.delete(leaseId);
    const i = buffered.findIndex((l) => l.leaseId === leaseId);
    // A buffered (not yet started) lease is simply dropped.
    if (i >= 0) return void buffered.splice(i, 1);
    if (taskId !== undefined) options.onCancel?.(taskId, leaseId, reason);
  }

  function handBack(lease: Lease): void {
    release(lease.taskId, lease.leaseId).catch(() => {/* it expires instead */});
  }

  async function request(body: Record<string, unknown>): Promise<Ack> {
    if (refusal) throw refusal;
    if (!await whenOpen(replyTimeoutMs)) {
      throw refusal ?? new TransportError("network", "coordinator socket is not connected");
    }
    const ref = ++nextRef;
    const sent = performance.now();
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(ref);
        reject(new TransportError("network", `no reply within ${replyTimeoutMs} ms`));
      }, replyTimeoutMs);
      pending.set(ref, {
        resolve: (a) => {
          clearTimeout(timer);
          const took = performance.now() - sent;
          roundTripMs = roundTripMs === null ? took : 0.9 * roundTripMs + 0.1 * took;
          resolve(a);
        },
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      try {
        socket!.send(JSON.stringify({ ...body, ref }));
      } catch (e) {
        pending.delete(ref);
        clearTimeout(timer);
        reject(new TransportError("network", "socket send failed", { cause: e }));
      }
    });
  }

  function reportOutcome(a: Ack): ReportOutcome {
    if (a.ok) return { ok: true };
    const code = knownErrorCode(a.code);
    return {
      ok: false,
      reason: code === "cancelled"
        ? "cancelled"
        : code === "not_found"
        ? "not_found"
        : code === "stale_lease"
        ? "stale"
        : "rejected",
      message: a.message ?? a.code ?? "refused",
    };
  }

  /**
   * Reports must not be lost to a transient error (a coordinator restart among them): retry the
   * send until a reply comes. The lease stays held, so a new socket re-attaches it first.
   */
  async function report(body: { leaseId: string } & Record<string, unknown>) {
    for (let attempt = 0;; attempt++) {
      try {
        const outcome = reportOutcome(await request(body));
        held.delete(body.leaseId);
        return outcome;
      } catch (e) {
        if (closedForGood || attempt >= 5) throw e;
        await new Promise((r) =>
          setTimeout(r, backoffDelay(attempt + 1, { baseMs: 200, maxMs: 5000, jitter: false }))
        );
      }
    }
  }

  /**
   * A prefetched lease waits here until the core has a free slot; heartbeat it meanwhile so a
   * long-running neighbour cannot make it expire before it starts.
   */
  function keepAlive(lease: Lease): void {
    const every = Math.max(250, lease.task.leaseMs / 3);
    const timer = setInterval(() => {
      if (!buffered.includes(lease)) {
        clearInterval(timer);
        keepAlives.delete(timer);
        return;
      }
      request({ type: "heartbeat", taskId: lease.taskId, leaseId: lease.leaseId }).catch(() => {});
    }, every);
    keepAlives.add(timer);
  }
  const keepAlives = new Set<ReturnType<typeof setInterval>>();
  const stopKeepAlives = () => {
    for (const t of keepAlives) clearInterval(t);
    keepAlives.clear();
  };

  function release(taskId: string, leaseId: string) {
    return report({ type: "release", taskId, leaseId });
  }

  connect();

  return {
    get connected() {
      return open;
    },
    get roundTripMs() {
      return roundTripMs;
    },
    health: () => http.health(),
    checkToken: () => http.checkToken(),

    async claim({ max, waitMs, signal }: ClaimOptions): Promise<Lease[]> {
      if (refusal) throw refusal;
      // Not connected: say so soon, so the core backs off and counts the time offline.
      if (buffered.length === 0 && !await whenOpen(Math.min(waitMs, 2_000), signal)) {
        if (refusal) throw refusal;
        if (signal?.aborted || closedForGood) return [];
        throw new TransportError("network", "coordinator socket is not connected");
      }
      const deadline = Date.now() + waitMs;
      while (buffered.length === 0 && Date.now() < deadline && !signal?.aborted && !closedForGood) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            claimWaiters.delete(done);
            signal?.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, deadline - Date.now());
          claimWaiters.add(done);
          signal?.addEventListener("abort", done, { once: true });
        });
        if (refusal) throw refusal;
        if (!open && buffered.length === 0) {
          throw new TransportError("network", "coordinator socket is not connected");
        }
      }
      return buffered.splice(0, max);
    },

    async heartbeat(taskId: string, leaseId: string, progress?: number): Promise<HeartbeatOutcome> {
      const a = await request({
        type: "heartbeat",
        taskId,
        leaseId,
        ...(progress !== undefined ? { progress } : {}),
      });
      if (a.ok) return { ok: true, expiresAt: a.expiresAt ?? Date.now() };
      return { ok: false, reason: knownErrorCode(a.code) === "cancelled" ? "cancelled" : "stale" };
    },

    complete(taskId: string, leaseId: string, result: unknown, runMs?: number) {
      return report({
        type: "complete",
        taskId,
        leaseId,
        result,
        ...(runMs === undefined ? {} : { runMs }),
      });
    },
    fail(taskId: string, leaseId: string, error: TaskError) {
      return report({ type: "fail", taskId, leaseId, error });
    },
    release,

    started(taskId: string, leaseId: string) {
      const waited = Date.now() - (arrived.get(leaseId) ?? 0);
      arrived.delete(leaseId);
      // Run as soon as it came, the lease's own start is the same time: a notice for every task
      // would halve the tasks a volunteer's socket may report within its message rate.
      if (waited < NOTICE_AFTER_MS) return;
      try {
        if (open) socket?.send(JSON.stringify({ type: "started", taskId, leaseId }));
      } catch {
        // Lost with the socket: credit then counts from the lease, and the lease is handed back.
      }
    },

    setCapacity(slots: number) {
      capacity = slots;
      // The credit leaves first, so the slots these releases free are not filled again.
      if (open) socket?.send(JSON.stringify({ type: "credit", slots }));
      if (slots === 0) { for (const lease of buffered.splice(0)) handBack(lease); }
    },

    close() {
      closedForGood = true;
      stopKeepAlives();
      wakeClaims();
      socket?.close(1000, "worker stopping");
    },
  };
}
