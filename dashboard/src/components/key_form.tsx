/** @jsxImportSource preact */
import { useEffect, useRef, useState } from "preact/hooks";
import { adminKey, useKey } from "../admin_key.ts";

/** The admin key, typed in (never shown back); saving reloads the page with it. */
export function KeyForm({ autofocus = false }: { autofocus?: boolean }) {
  const [key, setKey] = useState("");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (autofocus) input.current?.focus();
  }, [autofocus]);
  return (
    <form
      class="key-form"
      data-testid="key-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) useKey(key);
      }}
    >
      <label class="field grow">
        <span>Admin API key</span>
        <input
          ref={input}
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="tsk_…"
          value={key}
          data-testid="key-input"
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit" class="button primary" data-testid="key-save">Use this key</button>
      {adminKey && (
        <button type="button" class="button ghost" onClick={() => useKey("")}>
          Forget key
        </button>
      )}
    </form>
  );
}
