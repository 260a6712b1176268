/**
 * Who runs this grid and what it computes: `GET /api/about` (the operator's `--project-*`
 * options, each task type's description), read once per page.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { About } from "../../shared/protocol.ts";

/** What the page shows when the coordinator does not answer (an older one, say). */
export const UNKNOWN_ABOUT: About = {
  project: { name: null, description: null, owner: null, url: null },
  types: [],
};

/**
 * The grid's description; null until it has loaded.
 *
 * @example
 * ```ts
 * const about = useAbout();
 * about?.project.name ?? "Tessera";
 * ```
 */
export function useAbout(): About | null {
  const [about, setAbout] = useState<About | null>(null);
  useEffect(() => {
    let alive = true;
    fetch("/api/about")
      .then((res) => res.ok ? res.json() as Promise<About> : UNKNOWN_ABOUT)
      .catch(() => UNKNOWN_ABOUT)
      .then((a) => alive && setAbout(a));
    return () => {
      alive = false;
    };
  }, []);
  return about;
}

/** A type's description, in the form a sentence needs: "Counts the primes …". */
export function describe(about: About | null, type: string): string | null {
  return about?.types.find((t) => t.type === type)?.description ?? null;
}
