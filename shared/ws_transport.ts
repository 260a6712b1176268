/**
 * The WebSocket transport: leases are pushed by the coordinator as soon as work exists, within
 * the capacity this worker announced (credit-based flow control); heartbeats and reports travel
 * on the same socket. Reconnects with exponential backoff and jitter. Universal: only the
 * standard `WebSocket` and `fetch`, so it runs in Deno and in browser Web Workers.
 *
 * Health and token checks go over HTTP (`createHttpTransport`), which a socket cannot answer
 * before it exists.
 *
 * @module
 */
import { createHttpTransport } from "./http_transport.ts";
import {
  knownErrorCode,
  type Lease,
  ServerMessage,
  type TaskError,
  type WorkerKind,
} from "./protocol.ts";
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
  /** Called when the coordinator says a held task was cancelled (or its lease expired). */
  onCancel?: (taskId: string, leaseId: string) => void;
  /** A reply not received within this time fails the call as a network error. @default 15000 */
  replyTimeoutMs?: number;
  /** For tests and for runtimes without a global WebSocket. */
  WebSocket?: typeof WebSocket;
}

/** The socket transport adds to {@link Transport}: change capacity, and close. */
export interface WsTransport extends Transport {
  /** New capacity (0 pauses delivery). Leases already held are unaffected. */
  setCapacity(slots: number): void;
  /** Closes the socket for good; the coordinator hands back whatever it still holds. */
  close(): void;
  readonly connected: boolean;
}

type Ack = Extract<ServerMessage, { type: "ack" }>;

const MAX_BACKOFF_MS = 30_000;

export function createWsTransport(options: WsTransportOptions): WsTransport {
  const http = createHttpTransport({
    url: options.url,
    workerId: options.workerId,
    token: options.token,
    kind: options.kind,
  });
  const Socket = options.WebSocket ?? WebSocket;
  const wsUrl = options.url.replace(/\/+$/, "").replace(/\/api$/, "").replace(/^http/, "ws") +
    "/api/ws" + (options.token ? `?token=${encodeURIComponent(options.token)}` : "");
  const replyTimeoutMs = options.replyTimeoutMs ?? 15_000;

  let socket: WebSocket | null = null;
  let open = false;
  let closedForGood = false;
  let failures = 0;
  let capacity = options.capacity;
  let nextRef = 0;
  const buffered: Lease[] = [];
  /** leaseId → when the core took it, for the donor's compute time. */
  const started = new Map<string, number>();
  const claimWaiters = new Set<() => void>();
  const pending = new Map<number, { resolve(a: Ack): void; reject(e: unknown): void }>();
  const openWaiters = new Set<() => void>();

  const wakeClaims = () => {
    for (const w of [...claimWaiters]) w();
  };

  function connect(): void {
    if (closedForGood) return;
    options.onStatus?.("connecting");
    const ws = new Socket(wsUrl);
    socket = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({
        type: "hello",
        workerId: options.workerId,
        kind: options.kind,
        slots: capacity,
        concurrency: options.concurrency ?? options.capacity,
        ...(options.types?.length ? { types: [...options.types] } : {}),
        ...(options.queues?.length ? { queues: [...options.queues] } : {}),
        ...(options.donorId ? { donorId: options.donorId } : {}),
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
          open = true;
          failures = 0;
          options.onStatus?.("open");
          for (const w of [...openWaiters]) w();
          return;
        case "lease":
          buffered.push(msg.lease);
          keepAlive(msg.lease);
          return wakeClaims();
        case "ack": {
          const p = pending.get(msg.ref);
          pending.delete(msg.ref);
          return p?.resolve(msg);
        }
        case "cancel": {
          // A buffered (not yet started) lease is simply dropped.
          const i = buffered.findIndex((l) => l.leaseId === msg.leaseId);
          if (i >= 0) buffered.splice(i, 1);
          return options.onCancel?.(msg.taskId, msg.leaseId);
        }
        case "error":
          return;
      }
    };
    ws.onclose = () => {
      if (socket === ws) socket = null;
      open = false;
      // The coordinator released every lease this socket held, buffered ones included.
      buffered.length = 0;
      stopKeepAlives();
      for (const p of pending.values()) {
        p.reject(new TransportError("network", "socket closed before the reply"));
      }
      pending.clear();
      options.onStatus?.("closed");
      wakeClaims();
      if (closedForGood) return;
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures++) * (0.5 + Math.random() / 2);
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

  async function request(body: Record<string, unknown>): Promise<Ack> {
    if (!await whenOpen(replyTimeoutMs)) {
      throw new TransportError("network", "coordinator socket is not connected");
    }
    const ref = ++nextRef;
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(ref);
        reject(new TransportError("network", `no reply within ${replyTimeoutMs} ms`));
      }, replyTimeoutMs);
      pending.set(ref, {
        resolve: (a) => (clearTimeout(timer), resolve(a)),
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

  /** Reports must not be lost to a transient error: retry the send until a reply comes. */
  async function report(body: Record<string, unknown>): Promise<ReportOutcome> {
    for (let attempt = 0;; attempt++) {
      try {
        return reportOutcome(await request(body));
      } catch (e) {
        if (closedForGood || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
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

  connect();

  return {
    get connected() {
      return open;
    },
    health: () => http.health(),
    checkToken: () => http.checkToken(),

    async claim({ max, waitMs, signal }: ClaimOptions): Promise<Lease[]> {
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
        if (!open && buffered.length === 0 && socket === null) {
          throw new TransportError("network", "coordinator socket is not connected");
        }
      }
      const taken = buffered.splice(0, max);
      for (const l of taken) started.set(l.leaseId, Date.now());
      return taken;
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

    complete(taskId: string, leaseId: string, result: unknown) {
      const runMs = Date.now() - (started.get(leaseId) ?? Date.now());
      started.delete(leaseId);
      return report({ type: "complete", taskId, leaseId, result, runMs });
    },
    fail(taskId: string, leaseId: string, error: TaskError) {
      started.delete(leaseId);
      return report({ type: "fail", taskId, leaseId, error });
    },
    release(taskId: string, leaseId: string) {
      started.delete(leaseId);
      return report({ type: "release", taskId, leaseId });
    },

    setCapacity(slots: number) {
      capacity = slots;
      if (open) socket?.send(JSON.stringify({ type: "credit", slots }));
    },

    close() {
      closedForGood = true;
      stopKeepAlives();
      wakeClaims();
      socket?.close(1000, "worker stopping");
    },
  };
}
