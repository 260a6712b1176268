/**
 * Vite config for the donate page: Preact, served by the coordinator at `/` (files under
 * `/assets/`), built into `dist/donate/` at the repository root. Task threads are module Web
 * Workers bundled as ES modules, so each handler stays its own lazily loaded chunk. The dev server
 * (`deno run -A web-worker/dev.ts`) proxies `/api`, WebSocket included, to a running coordinator,
 * `TESSERA_URL` or http://127.0.0.1:8787.
 *
 * @module
 */
import preact from "@preact/preset-vite";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const coordinator = process.env.TESSERA_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  // Pre-bundled dependencies live with the other packages, not among the sources.
  cacheDir: fileURLToPath(new URL("../node_modules/.vite/donate/", import.meta.url)),
  plugins: [preact()],
  worker: { format: "es" },
  build: {
    outDir: fileURLToPath(new URL("../dist/donate/", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 300,
  },
  server: {
    host: "127.0.0.1",
    port: 5174,
    proxy: { "/api": { target: coordinator, changeOrigin: true, ws: true } },
  },
});
