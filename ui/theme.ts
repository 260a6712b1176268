/**
 * Light and dark, for both browser apps: follows the system unless the visitor picked one, kept
 * in localStorage, so a choice made on the dashboard holds on the donate page too. Sets
 * `data-theme` on the root element, which ui/base.css reads.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";

export type ThemeChoice = "auto" | "light" | "dark";
export type Theme = "light" | "dark";

const KEY = "tessera.theme";
const media = () => globalThis.matchMedia?.("(prefers-color-scheme: dark)");

function savedChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "auto";
  } catch {
    return "auto";
  }
}

function effective(choice: ThemeChoice): Theme {
  if (choice !== "auto") return choice;
  return media()?.matches ? "dark" : "light";
}

/** The visitor's choice, the theme in effect, and a setter that remembers the choice. */
export function useTheme(): { choice: ThemeChoice; theme: Theme; choose(c: ThemeChoice): void } {
  const [choice, setChoice] = useState<ThemeChoice>(savedChoice);
  const [theme, setTheme] = useState<Theme>(() => effective(savedChoice()));
  useEffect(() => {
    const root = document.documentElement;
    if (choice === "auto") delete root.dataset.theme;
    else root.dataset.theme = choice;
    setTheme(effective(choice));
    const m = media();
    if (choice !== "auto" || !m) return;
    const onChange = () => setTheme(effective("auto"));
    m.addEventListener("change", onChange);
    return () => m.removeEventListener("change", onChange);
  }, [choice]);
  const choose = (c: ThemeChoice) => {
    try {
      if (c === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, c);
    } catch { /* private mode: the choice lasts for this page */ }
    setChoice(c);
  };
  return { choice, theme, choose };
}
