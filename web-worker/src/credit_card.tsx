/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * "Your credit": what the coordinator has checked and what still waits for a second opinion,
 * over every visit of this browser (donor_credit.ts), and this visit's own count apart.
 *
 * @module
 */
import type { DonorCredit } from "../../shared/protocol.ts";
import { count, duration } from "./format.ts";
import { shortId } from "./short_id.ts";

export interface CreditCardProps {
  credit: DonorCredit | null;
  donorId: string;
  workerId: string;
}

const tasks = (n: number) => `${count(n)} task${n === 1 ? "" : "s"}`;

/**
 * Checked and pending credit, side by side.
 *
 * @example
 * ```tsx
 * <CreditCard credit={useDonorCredit(id, s.completed)} donorId={id} workerId={s.workerId} />
 * ```
 */
export function CreditCard({ credit, donorId, workerId }: CreditCardProps) {
  const checked = credit?.checked ?? { tasks: 0, computeMs: 0 };
  const pending = credit?.pending ?? { tasks: 0, computeMs: 0, waitingForRecord: 0 };
  return (
    <section class="card credit" aria-label="Your credit">
      <h3>Your credit, all visits</h3>
      <div class="credit-grid">
        <div class="credit-box checked" data-testid="credit-checked" data-value={checked.tasks}>
          <span class="credit-label">Checked</span>
          <strong>{tasks(checked.tasks)}</strong>
          <span class="muted small">{duration(checked.computeMs)} of compute</span>
        </div>
        <div class="credit-box pending" data-testid="credit-pending" data-value={pending.tasks}>
          <span class="credit-label">Waiting to be checked</span>
          <strong>{tasks(pending.tasks)}</strong>
          <span class="muted small">{duration(pending.computeMs)} of compute</span>
        </div>
      </div>
      <p class="muted small" data-testid="credit-note">
        {credit === null
          ? "Asking the coordinator…"
          : pending.tasks === 0
          ? "Counted by the coordinator from the results it received, never by this page."
          : pending.waitingForRecord > 0
          ? `${count(pending.waitingForRecord)} of the results waiting need a volunteer with a ` +
            "track record to agree. Credit counts once the results agree."
          : "These tasks are computed twice: credit counts once another volunteer's result " +
            "agrees with yours."}
      </p>
      <p class="muted small">
        Donor <span class="mono" title={donorId}>{donorId.slice(0, 8)}</span>{" "}
        (a random id kept in this browser) · this tab{" "}
        <span class="mono" data-testid="worker-id" data-value={workerId} title={workerId}>
          {shortId(workerId)}
        </span>
      </p>
    </section>
  );
}
