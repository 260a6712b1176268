import { deepStrictEqual, rejects } from "node:assert/strict";
import handler from "./text_wordcount.ts";
import { refusedPaths, runHandler, testContext } from "./_test_context.ts";

Deno.test("text.wordcount counts words, unique words and the top list of a fixed text", async () => {
  const text = "The cat and the hat. THE cat's hat!";
  deepStrictEqual(await runHandler(handler, { text }), {
    words: 8,
    unique: 5,
    top: [
      { word: "the", count: 3 },
      { word: "hat", count: 2 },
      { word: "and", count: 1 },
      { word: "cat", count: 1 },
      { word: "cat's", count: 1 },
    ],
  });
});

Deno.test("text.wordcount keeps only the top N, ties broken by word ascending", async () => {
  const text = "b a c b a d e e e";
  deepStrictEqual(await runHandler(handler, { text, top: 3 }), {
    words: 9,
    unique: 5,
    top: [
      { word: "e", count: 3 },
      { word: "a", count: 2 },
      { word: "b", count: 2 },
    ],
  });
});

Deno.test("text.wordcount treats Unicode letters and digits as word characters", async () => {
  const text = "Café café CAFÉ, naïve 2024 Ελλάδα ελλάδα; 東京 x-ray";
  deepStrictEqual(await runHandler(handler, { text }), {
    words: 10,
    unique: 7,
    top: [
      { word: "café", count: 3 },
      { word: "ελλάδα", count: 2 },
      { word: "2024", count: 1 },
      { word: "naïve", count: 1 },
      { word: "ray", count: 1 },
      { word: "x", count: 1 },
      { word: "東京", count: 1 },
    ],
  });
});

Deno.test("text.wordcount matches before lowercasing, so dotted capital I stays one word", async () => {
  // "İ" (U+0130) lowercases to "i" + U+0307 (a combining mark, not a letter).
  deepStrictEqual(await runHandler(handler, { text: "İSTANBUL İstanbul" }), {
    words: 2,
    unique: 1,
    top: [{ word: "i\u0307stanbul", count: 2 }],
  });
});

Deno.test("text.wordcount returns zeros for a text without words", async () => {
  deepStrictEqual(await runHandler(handler, { text: " -- ... !? " }), {
    words: 0,
    unique: 0,
    top: [],
  });
  deepStrictEqual(await runHandler(handler, { text: "" }), { words: 0, unique: 0, top: [] });
});

Deno.test("text.wordcount refuses bad params, naming the field", () => {
  deepStrictEqual(refusedPaths(handler.params, { text: "x".repeat(12_001) }), ["text"]);
  deepStrictEqual(refusedPaths(handler.params, {}), ["text"]);
  deepStrictEqual(refusedPaths(handler.params, { text: "a", top: 0 }), ["top"]);
  deepStrictEqual(refusedPaths(handler.params, { text: "a", top: 101 }), ["top"]);
  deepStrictEqual(refusedPaths(handler.params, { text: "x".repeat(12_000), top: 100 }), []);
  deepStrictEqual(handler.params.parse({ text: "a" }), { text: "a", top: 10 });
});

Deno.test("text.wordcount rejects with the reason of an already aborted signal", async () => {
  const reason = new Error("cancelled");
  await rejects(
    runHandler(handler, { text: "a b" }, testContext({ signal: AbortSignal.abort(reason) })),
    (err) => err === reason,
  );
});
