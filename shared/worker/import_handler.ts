/**
 * Imports verified handler code inside a task thread, from blob: URLs. A sandboxed thread (a
 * Deno subprocess with no permissions, a browser Web Worker) cannot resolve the bundles'
 * relative imports `"./<sha>.js"` against the coordinator, so each such literal is replaced by
 * the blob URL of that file, dependencies first. Universal and dependency-free (no npm, no
 * `Deno.*`): it runs in a no-permission process, which cannot load npm packages.
 *
 * @example
 * ```ts
 * const handler = await importHandler(code); // code from a HandlerSource, already verified
 * ```
 *
 * @module
 */
import type { Handler } from "../../handlers/contract.ts";

/** One bundle file: its SHA-256 (hex) and its text. */
export interface CodeFile {
  sha: string;
  text: string;
}

/** Everything one handler version runs, checked against its hashes by the parent. */
export interface HandlerCode {
  type: string;
  /** The entry's SHA-256: the handler version. */
  version: string;
  /** Every chunk the entry needs, dependencies before the files importing them, then the entry. */
  files: CodeFile[];
}

/** The only way bundle files import each other (PACKS_SPEC): `"./<64 hex>.js"`. */
export const CHUNK_IMPORT = /"\.\/([0-9a-f]{64})\.js"/g;

/** The chunk hashes a file's text imports. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(CHUNK_IMPORT)].map((m) => m[1]!);
}

/**
 * `files` ordered so that every file comes after the files it imports; throws on an import of a
 * file not in the list, or an import cycle (a bundler does not produce either).
 */
export function dependencyOrder(files: CodeFile[]): CodeFile[] {
  const bySha = new Map(files.map((f) => [f.sha, f]));
  const out: CodeFile[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (file: CodeFile) => {
    const s = state.get(file.sha);
    if (s === "done") return;
    if (s === "visiting") throw new Error(`import cycle through ${file.sha}`);
    state.set(file.sha, "visiting");
    for (const dep of importsOf(file.text)) {
      const f = bySha.get(dep);
      if (!f) throw new Error(`${file.sha}.js imports ${dep}.js, which its entry does not list`);
      visit(f);
    }
    state.set(file.sha, "done");
    out.push(file);
  };
  for (const f of files) visit(f);
  return out;
}

const imported = new Map<string, Promise<Handler>>();
const blobUrls = new Map<string, string>();

/**
 * Imports `code` (once per type and version in this thread) and returns the handler of its type: the
 * entry's default export, or the member of type `code.type` when it exports an array.
 */
export function importHandler(code: HandlerCode): Promise<Handler> {
  const key = `${code.type}@${code.version}`;
  let pending = imported.get(key);
  if (!pending) {
    pending = load(code);
    pending.catch(() => imported.delete(key));
    imported.set(key, pending);
  }
  return pending;
}

async function load(code: HandlerCode): Promise<Handler> {
  let entryUrl = "";
  for (const file of dependencyOrder(code.files)) {
    let url = blobUrls.get(file.sha);
    if (!url) {
      const text = file.text.replace(CHUNK_IMPORT, (_, sha: string) => {
        const dep = blobUrls.get(sha);
        if (!dep) throw new Error(`chunk ${sha} was not loaded before ${file.sha}`);
        return JSON.stringify(dep);
      });
      url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
      blobUrls.set(file.sha, url);
    }
    if (file.sha === code.version) entryUrl = url;
  }
  if (!entryUrl) throw new Error(`the code of ${code.version} has no entry file`);
  const exported = (await import(entryUrl)).default as Handler | Handler[] | undefined;
  const handler = Array.isArray(exported) ? exported.find((h) => h?.type === code.type) : exported;
  if (!handler || typeof handler.run !== "function") {
    throw new Error(`bundle ${code.version} exports no handler for ${code.type}`);
  }
  if (handler.type !== code.type) {
    throw new Error(`bundle ${code.version} declares type "${handler.type}", not "${code.type}"`);
  }
  return handler;
}
