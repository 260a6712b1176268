/**
 * The live mosaic's plan and paint: a Mandelbrot picture cut into the tasks of one
 * `mandelbrot.tile` job, each
 * tile painted with the palette of the kind of worker that computed it, and the render kept in
 * localStorage so a reload repaints it.
 *
 * @module
 */
import type { WorkerKind } from "../../shared/protocol.ts";

export interface MosaicView {
  cols: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  maxIter: number;
}

/**
 * 8 × 8 tiles of 64 × 48 pixels over x ∈ [−2.2, 1], y ∈ [−1.2, 1.2]: square pixels (0.00625
 * wide), 512 × 384 in all. Each result is at most 3,072 × 4 bytes of JSON, well inside the 32 KiB
 * result limit that `maxIter` ≤ 999 allows for this tile size.
 */
export const DEFAULT_VIEW: MosaicView = Object.freeze({
  cols: 8,
  rows: 8,
  tileWidth: 64,
  tileHeight: 48,
  x0: -2.2,
  x1: 1,
  y0: -1.2,
  y1: 1.2,
  maxIter: 200,
});

export interface MosaicRender {
  view: MosaicView;
  startedAt: number;
  /** The job that renders it (absent in renders saved before the mosaic was a job). */
  jobId?: string;
  /** Task id per tile, row-major, row 0 at the top of the picture. */
  taskIds: string[];
  /** Kind of worker per painted tile index. */
  kinds: Record<number, WorkerKind>;
  failed: number[];
  finishedAt: number | null;
}

export interface TileParams {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  width: number;
  height: number;
  maxIter: number;
}

/**
 * The id of task `index` of job `jobId`: `<jobId>-<index, 8 digits>`, as the coordinator names a
 * job's tasks (`jobTaskId` in coordinator/store/keys.ts), so a render knows its tiles' ids from its
 * job's id alone.
 */
export const jobTaskId = (jobId: string, index: number): string =>
  `${jobId}-${String(index).padStart(8, "0")}`;

/** The params of tile `index` (row 0 is the top: the largest y). */
export function tileParams(view: MosaicView, index: number): TileParams {
  const col = index % view.cols;
  const row = Math.floor(index / view.cols);
  const dx = (view.x1 - view.x0) / view.cols;
  const dy = (view.y1 - view.y0) / view.rows;
  const top = view.y1 - row * dy;
  return {
    x0: view.x0 + col * dx,
    x1: view.x0 + (col + 1) * dx,
    y0: top - dy,
    y1: top,
    width: view.tileWidth,
    height: view.tileHeight,
    maxIter: view.maxIter,
  };
}

type Rgb = [number, number, number];

const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;

/** Palette stops per worker kind: cool for Deno, warm for browsers, violet when unknown. */
export const PALETTES: Record<WorkerKind, string[]> = {
  deno: ["#030816", "#0b2a5b", "#0e7490", "#2dd4bf", "#ecfeff"],
  browser: ["#140404", "#5b1a0b", "#c2410c", "#fbbf24", "#fffbeb"],
  other: ["#0c0718", "#3b1d6e", "#7c3aed", "#c4b5fd", "#faf5ff"],
};

const LUT_SIZE = 256;
const luts = new Map<WorkerKind, Uint8ClampedArray>();

function lut(kind: WorkerKind): Uint8ClampedArray {
  let table = luts.get(kind);
  if (table) return table;
  const stops = PALETTES[kind].map(hex);
  table = new Uint8ClampedArray(LUT_SIZE * 3);
  for (let i = 0; i < LUT_SIZE; i++) {
    const t = (i / (LUT_SIZE - 1)) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2);
    const f = t - k;
    for (let c = 0; c < 3; c++) {
      table[i * 3 + c] = stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f;
    }
  }
  luts.set(kind, table);
  return table;
}

/** A CSS gradient of a kind's palette, for the legend. */
export function paletteGradient(kind: WorkerKind): string {
  return `linear-gradient(90deg, ${PALETTES[kind].join(", ")})`;
}

/** Paints one finished tile onto the mosaic's canvas. */
export function paintTile(
  ctx: CanvasRenderingContext2D,
  view: MosaicView,
  index: number,
  iterations: readonly number[],
  kind: WorkerKind,
): void {
  const { tileWidth: w, tileHeight: h, maxIter } = view;
  const table = lut(kind);
  const image = ctx.createImageData(w, h);
  const logMax = Math.log(maxIter);
  for (let j = 0; j < h; j++) {
    // Row j = 0 of a result is the row nearest y0, the bottom of the tile on screen.
    const y = h - 1 - j;
    for (let i = 0; i < w; i++) {
      const n = iterations[j * w + i] ?? 0;
      const t = n >= maxIter ? 0 : 0.08 + 0.92 * (Math.log(Math.max(1, n)) / logMax);
      const at = Math.round(t * (LUT_SIZE - 1)) * 3;
      const p = (y * w + i) * 4;
      image.data[p] = table[at];
      image.data[p + 1] = table[at + 1];
      image.data[p + 2] = table[at + 2];
      image.data[p + 3] = 255;
    }
  }
  const col = index % view.cols;
  const row = Math.floor(index / view.cols);
  ctx.putImageData(image, col * w, row * h);
}

/** Marks a tile whose task failed or was cancelled. */
export function paintFailedTile(
  ctx: CanvasRenderingContext2D,
  view: MosaicView,
  index: number,
): void {
  const { tileWidth: w, tileHeight: h } = view;
  const x = (index % view.cols) * w;
  const y = Math.floor(index / view.cols) * h;
  ctx.fillStyle = "rgba(220, 38, 38, 0.25)";
  ctx.fillRect(x, y, w, h);
  ctx.strokeStyle = "rgba(220, 38, 38, 0.9)";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x + 8, y + 8);
  ctx.lineTo(x + w - 8, y + h - 8);
  ctx.moveTo(x + w - 8, y + 8);
  ctx.lineTo(x + 8, y + h - 8);
  ctx.stroke();
}

const STORAGE_KEY = "tessera.mosaic.v1";

export function loadRender(): MosaicRender | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const r = JSON.parse(raw) as MosaicRender;
    return Array.isArray(r.taskIds) && r.view ? r : null;
  } catch {
    return null;
  }
}

export function saveRender(render: MosaicRender): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(render));
  } catch { /* storage full or disabled: the render just won't survive a reload */ }
}

export function clearRender(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch { /* nothing to clear */ }
}
