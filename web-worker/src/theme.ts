/**
 * Light and dark: follows the system unless the visitor picked one, kept in localStorage under
 * the same key as the dashboard's choice.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";

export type ThemeChoice = "auto" | "light" | "dark";

const KEY = "tessera.theme";

function saved(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "auto";
  } catch {
    return "auto";
  }
}

/** The visitor's choice and a setter that remembers it. */
export function useTheme(): [ThemeChoice, (c: ThemeChoice) => void] {
  const [choice, setChoice] = useState<ThemeChoice>(saved);
  useEffect(() => {
    const root = document.documentElement;
    if (choice === "auto") delete root.dataset.theme;
    else root.dataset.theme = choice;
  }, [choice]);
  const choose = (c: ThemeChoice) => {
    try {
      if (c === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, c);
    } catch { /* private mode: the choice lasts for this page */ }
    setChoice(c);
  };
  return [choice, choose];
}
