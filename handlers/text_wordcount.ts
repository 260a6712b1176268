/**
 * `text.wordcount`: word statistics for a short text.
 *
 * A word is a maximal run of Unicode letters, digits and apostrophes (`/[\p{L}\p{N}']+/gu`),
 * matched on the original text and then lowercased with `String.prototype.toLowerCase` (not the
 * locale-dependent variant). Matching before lowercasing keeps each word whole even where
 * lowercasing adds a combining mark (e.g. U+0130 becomes "i" + U+0307).
 *
 * Result: `words` (total matches), `unique` (distinct lowercased words), and `top`: the `top` most
 * frequent words, by count descending, ties broken by the word in ascending UTF-16 code-unit order
 * (plain `<`, never `localeCompare`, so the order is the same on every engine and locale).
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";

const params = z.object({
  text: z.string().max(12_000),
  top: z.number().int().min(1).max(100).default(10),
});

const result = z.object({
  words: z.number().int().min(0),
  unique: z.number().int().min(0),
  top: z.array(z.object({ word: z.string(), count: z.number().int().min(1) })),
});

const WORD = /[\p{L}\p{N}']+/gu;

/** Words the spot-check samples are made of. */
const SAMPLE_WORDS = [
  "tessera",
  "grid",
  "volunteer",
  "compute",
  "lease",
  "quorum",
  "prime",
  "tile",
  "pixel",
  "deno",
];

export default defineHandler({
  type: "text.wordcount",
  description: "Counts words in a text and lists the most frequent ones",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 10_000,
  maxTimeoutMs: 30_000,
  samples: (r) => ({
    params: {
      text: Array.from({ length: 40 }, () => SAMPLE_WORDS[Math.floor(r() * SAMPLE_WORDS.length)])
        .join(" "),
      top: 5,
    },
  }),
  run({ text, top }, ctx) {
    ctx.signal.throwIfAborted();
    const counts = new Map<string, number>();
    let words = 0;
    for (const match of text.matchAll(WORD)) {
      const word = match[0].toLowerCase();
      counts.set(word, (counts.get(word) ?? 0) + 1);
      words++;
    }
    const ranked = [...counts]
      .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, top)
      .map(([word, count]) => ({ word, count }));
    ctx.progress(1);
    return { words, unique: counts.size, top: ranked };
  },
});
