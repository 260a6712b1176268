/**
 * The donor's totals over every visit, kept by the coordinator (`GET /api/donors`), refreshed
 * now and then and whenever this page's count moves on.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { Donor, DonorsResponse } from "../../shared/protocol.ts";

export type DonorTotals = Omit<Donor, "id">;

const REFRESH_MS = 10_000;
const CREDIT_DELAY_MS = 500;

/** This donor's totals; null until known (or when the coordinator has none yet). */
export function useDonorTotals(donorId: string, localCompleted: number): DonorTotals | null {
  const [totals, setTotals] = useState<DonorTotals | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  // Refetch on the timer, after the first completion here and after every 25 more.
  const step = localCompleted === 0 ? 0 : 1 + Math.floor(localCompleted / 25);
  useEffect(() => {
    let alive = true;
    // A moment after the change: the coordinator credits the donor just after its reply.
    const timer = setTimeout(load, step === 0 ? 0 : CREDIT_DELAY_MS);
    return () => {
      alive = false;
      clearTimeout(timer);
    };

    function load() {
      fetch("/api/donors")
        .then((res) => res.ok ? res.json() : null)
        .then((body: Partial<DonorsResponse> | null) => {
          const mine = body?.donors?.find((d) => d.id === donorId);
          if (alive && mine) setTotals({ completed: mine.completed, computeMs: mine.computeMs });
        })
        .catch(() => {/* unreachable: keep the last figures */});
    }
  }, [donorId, tick, step]);
  return totals;
}
