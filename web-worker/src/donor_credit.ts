/**
 * The donor's credit over every visit, as the coordinator counts it (`GET /api/donors/{id}`):
 * checked, for results it accepted, and pending, for results that are votes on tasks not yet
 * decided. Refreshed now and then, and whenever this page's count moves on. Never computed here:
 * what this page counted itself is shown as "this visit", apart.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { DonorCredit } from "../../shared/protocol.ts";

/** How often to look again with nothing pending: only this page's results change it then. */
const REFRESH_MS = 10_000;
/** With credit pending, other volunteers' results decide it: look more often. */
const PENDING_REFRESH_MS = 2_000;
/** The coordinator credits a result just after its reply: ask a moment later. */
const CREDIT_DELAY_MS = 500;
/** At most this often while results keep coming. */
const THROTTLE_MS = 2_000;

/**
 * This donor's credit; null until known.
 *
 * @example
 * ```ts
 * const credit = useDonorCredit(donorId, snapshot.completed);
 * credit?.checked.tasks;
 * ```
 */
export function useDonorCredit(donorId: string, localCompleted: number): DonorCredit | null {
  const [credit, setCredit] = useState<DonorCredit | null>(null);
  const [tick, setTick] = useState(0);
  const lastAsked = useRef(-Infinity);
  /** The one fetch scheduled; later changes wait for it instead of pushing it back. */
  const scheduled = useRef<ReturnType<typeof setTimeout> | null>(null);
  const alive = useRef(true);
  const waiting = (credit?.pending.tasks ?? 0) > 0;
  useEffect(() => {
    const timer = setInterval(
      () => setTick((t) => t + 1),
      waiting ? PENDING_REFRESH_MS : REFRESH_MS,
    );
    return () => clearInterval(timer);
  }, [waiting]);
  useEffect(() => () => {
    alive.current = false;
    if (scheduled.current !== null) clearTimeout(scheduled.current);
  }, []);
  useEffect(() => {
    if (scheduled.current !== null) return;
    const first = localCompleted === 0 && tick === 0;
    const wait = first
      ? 0
      : Math.max(CREDIT_DELAY_MS, lastAsked.current + THROTTLE_MS - performance.now());
    scheduled.current = setTimeout(() => {
      scheduled.current = null;
      lastAsked.current = performance.now();
      fetch(`/api/donors/${encodeURIComponent(donorId)}`)
        .then((res) => res.ok ? res.json() as Promise<DonorCredit> : null)
        .then((body) => {
          if (alive.current && body?.checked && body.pending) setCredit(body);
        })
        .catch(() => {/* unreachable: keep the last figures */});
    }, wait);
  }, [donorId, tick, localCompleted]);
  return credit;
}
