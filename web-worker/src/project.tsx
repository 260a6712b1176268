/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Who runs this grid and why (the operator's `--project-*` options), and what its task types
 * compute, from `GET /api/about`. An operator who said nothing is shown as such, not invented.
 *
 * @module
 */
import type { About } from "../../shared/protocol.ts";

/** The project's name, or the software's when the operator gave none. */
export const projectName = (about: About | null): string => about?.project.name ?? "Tessera";

/** The link's host, for a short label: "example.org". */
function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * The project card: what it is for and who runs it.
 *
 * @example
 * ```tsx
 * <ProjectCard about={useAbout()} />
 * ```
 */
export function ProjectCard({ about }: { about: About | null }) {
  const p = about?.project;
  return (
    <section class="card project" aria-label="About this grid" data-testid="project">
      <p class="project-desc" data-testid="project-description">
        {about === null ? "\u00a0" : p?.description ??
          "Keep this page open to lend spare processor time to this volunteer compute grid."}
      </p>
      <p class="muted small" data-testid="project-owner">
        {about === null ? "\u00a0" : (
          <>
            {p?.owner
              ? (
                <>
                  Run by <strong class="owner">{p.owner}</strong>
                </>
              )
              : "The operator of this grid has not said who runs it"}
            {p?.url && (
              <>
                {" · "}
                <a href={p.url} target="_blank" rel="noopener noreferrer">
                  {host(p.url)}
                </a>
              </>
            )}
          </>
        )}
      </p>
    </section>
  );
}

/**
 * The task types this grid runs, each with its handler's own description.
 *
 * @example
 * ```tsx
 * <TypesCard about={about} running={snapshot.types} />
 * ```
 */
export function TypesCard({ about, running }: { about: About | null; running: string[] }) {
  const types = about?.types ?? [];
  return (
    <section class="card" aria-label="What this grid computes">
      <h3>What may run here</h3>
      {types.length === 0
        ? <p class="muted">{about === null ? "\u00a0" : "The coordinator did not say."}</p>
        : (
          <dl class="types" data-testid="type-list">
            {types.map((t) => (
              <div
                class={running.includes(t.type) ? "type on" : "type"}
                key={t.type}
                data-type={t.type}
              >
                <dt class="mono">{t.type}</dt>
                <dd>{t.description}</dd>
              </div>
            ))}
          </dl>
        )}
      <p class="muted small">
        Only these task types, registered by the grid's operator, run here, each in a Web Worker of
        this page.
      </p>
    </section>
  );
}
