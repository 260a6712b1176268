/** @jsxImportSource preact */
import { useEffect, useRef, useState } from "preact/hooks";
import type { LiveTaskEvent, Task, WorkerKind } from "../../../shared/protocol.ts";
import { createJob, getTask, getTasks, workerKind } from "../api.ts";
import { duration } from "../format.ts";
import type { LiveClient } from "../live_client.ts";
import {
  clearRender,
  DEFAULT_VIEW,
  jobTaskId,
  loadRender,
  type MosaicRender,
  paintFailedTile,
  paintTile,
  paletteGradient,
  saveRender,
  tileParams,
} from "../mosaic.ts";

const CATCH_UP_MS = 5_000;
/** Ahead of bulk work, so the picture assembles while a backlog drains. */
const PRIORITY = 10;

const KINDS: WorkerKind[] = ["browser", "deno", "other"];

/**
 * The live mosaic: "Render" creates a `mandelbrot.tile` job, one input per tile in tile order, so
 * it shows in the Jobs card like any other; each tile is painted as its task's `task` event
 * arrives, with the palette of the kind of worker that computed it.
 */
export function Mosaic({ live, canWrite }: { live: LiveClient; canWrite: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const render = useRef<MosaicRender | null>(null);
  const tileOf = useRef(new Map<string, number>());
  const painted = useRef(new Map<number, WorkerKind>());
  const failed = useRef(new Set<number>());
  const inflight = useRef(new Set<number>());
  const [, setVersion] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const changed = () => setVersion((v) => v + 1);

  const context = () => canvas.current?.getContext("2d") ?? null;

  const settle = () => {
    const r = render.current!;
    if (r.finishedAt === null && painted.current.size + failed.current.size === r.taskIds.length) {
      r.finishedAt = Date.now();
    }
    saveRender(r);
    changed();
  };

  const show = async (index: number, task: Task, hint: WorkerKind | null) => {
    const r = render.current;
    const ctx = context();
    if (!r || !ctx || r.taskIds[index] !== task.id || painted.current.has(index)) return;
    if (task.status === "completed") {
      const iterations = (task.result as { iterations?: number[] } | null)?.iterations;
      if (!iterations) return;
      const kind = hint ?? r.kinds[index] ??
        (task.workerId ? await workerKind(task.workerId) : null) ?? "other";
      if (render.current !== r || painted.current.has(index)) return;
      paintTile(ctx, r.view, index, iterations, kind);
      painted.current.set(index, kind);
      failed.current.delete(index);
      r.kinds[index] = kind;
      r.failed = r.failed.filter((i) => i !== index);
      settle();
    } else if (task.status === "failed" || task.status === "cancelled") {
      if (failed.current.has(index)) return;
      paintFailedTile(ctx, r.view, index);
      failed.current.add(index);
      r.failed = [...failed.current];
      settle();
    }
  };

  /** Reads every tile not painted yet in one request: after a reload, a reconnect, or a gap. */
  const catchUp = async () => {
    const r = render.current;
    if (!r) return;
    const missing = r.taskIds
      .map((id, index) => ({ id, index }))
      .filter(({ index }) =>
        !painted.current.has(index) && !failed.current.has(index) && !inflight.current.has(index)
      );
    if (missing.length === 0) return;
    try {
      const tasks = await getTasks(missing.map((m) => m.id));
      if (painted.current.size === 0 && tasks.every((t) => t === null)) {
        // A render from another coordinator, or from a database since wiped: forget it.
        forget();
        return;
      }
      await Promise.all(tasks.map((t, k) => t && show(missing[k].index, t, null)));
    } catch { /* the next catch-up or event will do */ }
  };

  const forget = () => {
    render.current = null;
    tileOf.current = new Map();
    painted.current = new Map();
    failed.current = new Set();
    clearRender();
    const c = canvas.current;
    if (c) context()?.clearRect(0, 0, c.width, c.height);
    changed();
  };

  const adopt = (r: MosaicRender) => {
    render.current = r;
    tileOf.current = new Map(r.taskIds.map((id, i) => [id, i]));
    painted.current = new Map();
    failed.current = new Set();
    inflight.current = new Set();
    const c = canvas.current;
    if (c) {
      c.width = r.view.cols * r.view.tileWidth;
      c.height = r.view.rows * r.view.tileHeight;
      context()?.clearRect(0, 0, c.width, c.height);
    }
    changed();
  };

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const view = DEFAULT_VIEW;
      const tiles = Array.from({ length: view.cols * view.rows }, (_, i) => tileParams(view, i));
      const job = await createJob({
        type: "mandelbrot.tile",
        inputs: tiles,
        name: "Live mosaic",
        priority: PRIORITY,
      });
      const r: MosaicRender = {
        view,
        startedAt: Date.now(),
        jobId: job.id,
        taskIds: tiles.map((_, i) => jobTaskId(job.id, i)),
        kinds: {},
        failed: [],
        finishedAt: null,
      };
      adopt(r);
      saveRender(r);
      // Tiles that finished before we knew their ids had no one listening for them.
      await catchUp();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const saved = loadRender();
    if (saved) {
      adopt(saved);
      catchUp();
    }
    const offTask = live.onTask((e: LiveTaskEvent) => {
      const index = tileOf.current.get(e.id);
      if (index === undefined || painted.current.has(index) || inflight.current.has(index)) return;
      if (e.status !== "completed") {
        getTask(e.id).then((t) => t && show(index, t, null), () => {});
        return;
      }
      inflight.current.add(index);
      getTask(e.id)
        .then((t) => t && show(index, t, e.workerKind), () => {})
        .finally(() => inflight.current.delete(index));
    });
    const offOpen = live.onOpen(catchUp);
    const timer = setInterval(() => {
      const r = render.current;
      if (r && r.finishedAt === null) {
        setNow(Date.now());
        catchUp();
      }
    }, CATCH_UP_MS);
    const tick = setInterval(() => {
      if (render.current && render.current.finishedAt === null) setNow(Date.now());
    }, 250);
    return () => {
      offTask();
      offOpen();
      clearInterval(timer);
      clearInterval(tick);
    };
  }, [live]);

  const r = render.current;
  const total = r?.taskIds.length ?? 0;
  const done = painted.current.size;
  const byKind = { browser: 0, deno: 0, other: 0 };
  for (const k of painted.current.values()) byKind[k]++;
  const elapsed = r ? (r.finishedAt ?? now) - r.startedAt : null;
  const view = r?.view ?? DEFAULT_VIEW;

  return (
    <div class="mosaic">
      <div class="mosaic-bar">
        {canWrite && (
          <button
            type="button"
            class="button primary"
            data-testid="render-button"
            disabled={busy}
            onClick={start}
          >
            {busy ? "Creating the job…" : r ? "Render again" : "Render"}
          </button>
        )}
        <div class="mosaic-progress" aria-live="polite">
          {r
            ? (
              <>
                <strong>{done}</strong> / {total} tiles
                {failed.current.size > 0 && (
                  <span class="error">· {failed.current.size} failed</span>
                )}
                <span class="muted">
                  · {r.finishedAt ? "done in" : ""} {duration(elapsed)}
                </span>
              </>
            )
            : (
              <span class="muted">
                {view.cols * view.rows} tasks of {view.tileWidth}×{view.tileHeight} pixels
              </span>
            )}
        </div>
      </div>
      {error && <p class="error">{error}</p>}
      <div class="progress" aria-hidden="true">
        <span style={{ width: total ? `${(done / total) * 100}%` : "0%" }} />
      </div>
      <canvas
        ref={canvas}
        class="mosaic-canvas"
        width={view.cols * view.tileWidth}
        height={view.rows * view.tileHeight}
        style={{
          aspectRatio: `${view.cols * view.tileWidth} / ${view.rows * view.tileHeight}`,
          backgroundSize: `${100 / view.cols}% ${100 / view.rows}%`,
        }}
        data-testid="mosaic"
        data-painted={done}
        data-failed={failed.current.size}
        data-total={total}
        aria-label={`Mandelbrot mosaic, ${done} of ${total} tiles painted`}
        role="img"
      />
      <ul class="legend">
        {KINDS.filter((k) => k !== "other" || byKind.other > 0).map((k) => (
          <li key={k} data-testid={`legend-${k}`}>
            <span class="swatch" style={{ backgroundImage: paletteGradient(k) }} />
            {k === "browser" ? "browser worker" : k === "deno" ? "Deno worker" : "other"}
            <span class="muted">{byKind[k]}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
