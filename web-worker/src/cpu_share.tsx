/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The CPU-share choice as a radio group that behaves like one (WAI-ARIA radio group pattern):
 * one tab stop, the chosen option; arrow keys move the choice, wrapping round, Home and End go
 * to the ends, and focus follows the choice.
 *
 * @module
 */
import { useRef } from "preact/hooks";
import { DUTIES, type Duty } from "./prefs.ts";

export interface CpuShareProps {
  value: Duty;
  onChange(duty: Duty): void;
  /** Names the group for assistive technology. @default "CPU share" */
  label?: string;
}

/**
 * Four segmented buttons, 25 … 100 %.
 *
 * @example
 * ```tsx
 * <CpuShare value={prefs.duty} onChange={(duty) => change({ duty })} />
 * ```
 */
export function CpuShare({ value, onChange, label = "CPU share" }: CpuShareProps) {
  const group = useRef<HTMLDivElement>(null);
  const choose = (d: Duty) => {
    onChange(d);
    group.current?.querySelector<HTMLElement>(`[data-duty="${d}"]`)?.focus();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const i = DUTIES.indexOf(value);
    const n = DUTIES.length;
    const to = e.key === "ArrowRight" || e.key === "ArrowDown"
      ? (i + 1) % n
      : e.key === "ArrowLeft" || e.key === "ArrowUp"
      ? (i - 1 + n) % n
      : e.key === "Home"
      ? 0
      : e.key === "End"
      ? n - 1
      : null;
    if (to === null) return;
    e.preventDefault();
    choose(DUTIES[to]);
  };
  return (
    <div
      class="segmented"
      role="radiogroup"
      aria-label={label}
      ref={group}
      onKeyDown={onKeyDown}
      data-testid="cpu-share"
    >
      {DUTIES.map((d) => (
        <button
          type="button"
          role="radio"
          aria-checked={value === d}
          tabIndex={value === d ? 0 : -1}
          class={value === d ? "on" : ""}
          data-testid={`duty-${d}`}
          data-duty={d}
          key={d}
          onClick={() => choose(d)}
        >
          {d} %
        </button>
      ))}
    </div>
  );
}
