/**
 * The admin key the dashboard sends when the coordinator enforces API keys. It comes from
 * `?key=` once (then kept in localStorage and removed from the address bar, so it is not
 * shared by copying the URL) or from the key form (the key button in the header, or the prompt
 * shown when the coordinator refuses the key).
 *
 * @module
 */

const STORAGE = "tessera.dashboard.key";

function fromUrl(): string | null {
  const url = new URL(location.href);
  const key = url.searchParams.get("key");
  if (!key) return null;
  url.searchParams.delete("key");
  history.replaceState(null, "", url);
  localStorage.setItem(STORAGE, key);
  return key;
}

export const adminKey: string | null = fromUrl() ?? localStorage.getItem(STORAGE);

/** Keeps a key (empty forgets it) and reloads so every call and the live feed use it. */
export function useKey(key: string): void {
  if (key.trim()) localStorage.setItem(STORAGE, key.trim());
  else localStorage.removeItem(STORAGE);
  location.reload();
}

/** Headers for API calls. */
export const authHeaders = (): Record<string, string> =>
  adminKey ? { authorization: `Bearer ${adminKey}` } : {};
