/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * "How much to give": workers, CPU share, start by itself, and the auto-pause options, each
 * kept in this browser (prefs.ts).
 *
 * @module
 */
import { CpuShare } from "./cpu_share.tsx";
import type { Power } from "./page_signals.ts";
import { maxWorkers, type Prefs } from "./prefs.ts";

export interface SettingsProps {
  prefs: Prefs;
  change(next: Partial<Prefs>): void;
  power: Power;
  /** Fewer words, for the embed box. */
  compact?: boolean;
}

/**
 * The settings card.
 *
 * @example
 * ```tsx
 * <Settings prefs={prefs} change={change} power={power} />
 * ```
 */
export function Settings({ prefs, change, power, compact = false }: SettingsProps) {
  const max = maxWorkers();
  return (
    <section class="card settings" aria-label="Settings">
      {!compact && <h3>How much to give</h3>}
      <div class="row">
        <div class="label">
          <span id="workers-label">Workers</span>
          {!compact && (
            <small class="muted">Web Workers computing at once (this device has {max})</small>
          )}
        </div>
        <div class="stepper" role="group" aria-labelledby="workers-label">
          <button
            type="button"
            class="button"
            aria-label="fewer workers"
            data-testid="workers-minus"
            disabled={prefs.workers <= 1}
            onClick={() => change({ workers: prefs.workers - 1 })}
          >
            −
          </button>
          <output data-testid="workers" data-value={prefs.workers}>{prefs.workers}</output>
          <button
            type="button"
            class="button"
            aria-label="more workers"
            data-testid="workers-plus"
            disabled={prefs.workers >= max}
            onClick={() => change({ workers: prefs.workers + 1 })}
          >
            +
          </button>
        </div>
      </div>
      <div class="row">
        <div class="label">
          <span>CPU share</span>
          {!compact && (
            <small class="muted">Each worker rests between tasks to stay under this</small>
          )}
        </div>
        <CpuShare value={prefs.duty} onChange={(duty) => change({ duty })} />
      </div>
      <label class="check">
        <input
          type="checkbox"
          data-testid="auto-start"
          checked={prefs.autoStart}
          onChange={(e) => change({ autoStart: e.currentTarget.checked })}
        />
        <span>
          Start automatically when I open this page{" "}
          {!compact && <small class="muted">(in this browser only)</small>}
        </span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          data-testid="pause-hidden"
          checked={prefs.pauseWhenHidden}
          onChange={(e) => change({ pauseWhenHidden: e.currentTarget.checked })}
        />
        <span>Pause while this tab is hidden</span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          data-testid="pause-battery"
          checked={prefs.pauseOnBattery}
          disabled={power === "unsupported"}
          onChange={(e) => change({ pauseOnBattery: e.currentTarget.checked })}
        />
        <span>
          Pause on battery power{" "}
          <small class="muted">
            {power === "unsupported"
              ? "(this browser does not say)"
              : power === "battery"
              ? "(on battery now)"
              : power === "charging"
              ? "(plugged in now)"
              : ""}
          </small>
        </span>
      </label>
    </section>
  );
}
