/**
 * The page's one connection to `GET /api/live`. EventSource reconnects on its own after a network
 * error; this adds what it does not do: reconnect when the server answered with an error (the
 * source is then closed for good), and when no `stats` event has come for a while (a proxy or a
 * sleeping laptop can hold a dead connection open).
 *
 * @module
 */
import { adminKey } from "./admin_key.ts";
import { useEffect, useState } from "preact/hooks";
import type { LiveSnapshot, LiveTaskEvent } from "../../shared/protocol.ts";
import { API } from "./api.ts";

export type Connection = "connecting" | "live" | "reconnecting";

const STALE_MS = 6_000;
const RETRY_MS = 3_000;

export class LiveClient {
  snapshot: LiveSnapshot | null = null;
  connection: Connection = "connecting";
  #url: string;
  #source: EventSource | null = null;
  #lastMessage = 0;
  #watchdog: ReturnType<typeof setInterval> | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #changed = new Set<() => void>();
  #tasks = new Set<(event: LiveTaskEvent) => void>();
  #opened = new Set<() => void>();

  constructor(types?: string[]) {
    // EventSource cannot send headers: the admin key travels as ?token=.
    const q = new URLSearchParams();
    if (types?.length) q.set("types", types.join(","));
    if (adminKey) q.set("token", adminKey);
    this.#url = q.size ? `${API}/live?${q}` : `${API}/live`;
  }

  start(): void {
    this.#connect();
    this.#watchdog = setInterval(() => {
      if (this.connection === "live" && Date.now() - this.#lastMessage > STALE_MS) {
        this.#setConnection("reconnecting");
        this.#connect();
      }
    }, 2000);
  }

  stop(): void {
    this.#source?.close();
    this.#source = null;
    if (this.#watchdog) clearInterval(this.#watchdog);
    if (this.#retry) clearTimeout(this.#retry);
  }

  /** Calls `fn` when the snapshot or the connection state changes. */
  onChange(fn: () => void): () => void {
    this.#changed.add(fn);
    return () => this.#changed.delete(fn);
  }

  onTask(fn: (event: LiveTaskEvent) => void): () => void {
    this.#tasks.add(fn);
    return () => this.#tasks.delete(fn);
  }

  /** Calls `fn` on every (re)connection: a moment to catch up on what was missed. */
  onOpen(fn: () => void): () => void {
    this.#opened.add(fn);
    return () => this.#opened.delete(fn);
  }

  #connect(): void {
    this.#source?.close();
    if (this.#retry) clearTimeout(this.#retry);
    const source = new EventSource(this.#url);
    this.#source = source;
    source.addEventListener("open", () => {
      this.#lastMessage = Date.now();
      for (const fn of this.#opened) fn();
    });
    source.addEventListener("stats", (e) => {
      this.#lastMessage = Date.now();
      this.snapshot = JSON.parse((e as MessageEvent<string>).data);
      this.#setConnection("live", true);
    });
    source.addEventListener("task", (e) => {
      this.#lastMessage = Date.now();
      const event: LiveTaskEvent = JSON.parse((e as MessageEvent<string>).data);
      for (const fn of this.#tasks) fn(event);
    });
    source.addEventListener("error", () => {
      if (this.#source !== source) return;
      this.#setConnection(this.snapshot ? "reconnecting" : "connecting");
      if (source.readyState === EventSource.CLOSED) {
        this.#retry = setTimeout(() => this.#connect(), RETRY_MS);
      }
    });
  }

  #setConnection(connection: Connection, force = false): void {
    if (connection === this.connection && !force) return;
    this.connection = connection;
    for (const fn of this.#changed) fn();
  }
}

/** Re-renders on every snapshot and connection change. */
export function useLive(client: LiveClient): Pick<LiveClient, "snapshot" | "connection"> {
  const [, setVersion] = useState(0);
  useEffect(() => client.onChange(() => setVersion((v) => v + 1)), [client]);
  return { snapshot: client.snapshot, connection: client.connection };
}
