/**
 * A value read now and every `everyMs` while the component is mounted: the last value read
 * (undefined until the first arrives) and the last read's error message (null once one works).
 * A read that lands after unmount is dropped.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";

export function usePolled<T>(
  load: () => Promise<T>,
  everyMs: number,
): { value: T | undefined; error: string | null } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const read = () =>
      load().then(
        (v) => {
          if (!alive) return;
          setValue(v);
          setError(null);
        },
        (e) => alive && setError((e as Error).message),
      );
    read();
    const timer = setInterval(read, everyMs);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);
  return { value, error };
}
