/** @jsxImportSource preact */
import type { LiveFailure } from "../../../shared/protocol.ts";
import { ago, shortId } from "../format.ts";
import { Empty } from "./card.tsx";

export interface FailuresProps {
  failures: LiveFailure[] | null;
  now: number;
  onPick(id: string): void;
}

/** The last failed tasks with their messages; a click opens the task in the lookup. */
export function Failures({ failures, now, onPick }: FailuresProps) {
  if (!failures) return <Empty>Waiting for the first snapshot…</Empty>;
  if (failures.length === 0) return <Empty>No failures. Calm seas.</Empty>;
  return (
    <ol class="failures" data-testid="failure-list">
      {failures.map((f) => (
        <li key={f.id}>
          <div class="failure-head">
            <button type="button" class="link mono" title={f.id} onClick={() => onPick(f.id)}>
              {shortId(f.id, 12)}
            </button>
            <span class="mono type">{f.type}</span>
            <span class="badge code">{f.code}</span>
            <time class="muted" dateTime={new Date(f.at).toISOString()}>{ago(f.at, now)}</time>
          </div>
          <p class="failure-message">{f.message}</p>
        </li>
      ))}
    </ol>
  );
}
