/** @jsxImportSource preact */
import type { ComponentChildren } from "preact";

export interface CardProps {
  title: string;
  hint?: ComponentChildren;
  actions?: ComponentChildren;
  /** Two columns of the grid, or the whole row (`"full"`). */
  wide?: boolean | "full";
  testid?: string;
  children: ComponentChildren;
}

/** A titled panel of the dashboard grid. */
export function Card({ title, hint, actions, wide, testid, children }: CardProps) {
  return (
    <section
      class={wide === "full" ? "card wide full" : wide ? "card wide" : "card"}
      data-testid={testid}
    >
      <header class="card-head">
        <div>
          <h2>{title}</h2>
          {hint && <p class="hint">{hint}</p>}
        </div>
        {actions && <div class="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
