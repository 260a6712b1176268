/**
 * Ids shown short, cut only where they have a boundary: `browser-1a2b3c4d-9f8e7d` reads
 * `browser-…-9f8e7d` (its kind and the part that tells tabs apart), never `browser-1a2b3c…`.
 *
 * @module
 */

/**
 * `id` in at most about `max` characters: the first segment, an ellipsis and as many whole
 * trailing segments as fit; an id without separators keeps its head.
 *
 * @example
 * ```ts
 * shortId("browser-1a2b3c4d-9f8e7d"); // "browser-…-9f8e7d"
 * shortId("worker-a"); // "worker-a"
 * ```
 */
export function shortId(id: string, max = 18): string {
  if (id.length <= max) return id;
  // [segment, separator, segment, separator, …, segment]
  const parts = id.split(/([-_.:])/);
  if (parts.length < 5) return `${id.slice(0, max - 1)}…`;
  const head = parts[0] + parts[1];
  let tail = parts[parts.length - 1];
  // Whole segments from the end while they fit, never reaching back into the head's.
  for (let i = parts.length - 3; i >= 2; i -= 2) {
    const longer = parts[i] + parts[i + 1] + tail;
    if (head.length + 2 + longer.length > max) break;
    tail = longer;
  }
  const sep = parts[parts.length - 2 - (tail.split(/[-_.:]/).length - 1) * 2];
  return `${head}…${sep}${tail}`;
}
