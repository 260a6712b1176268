/**
 * Vite config for the dashboard: Preact, served by the coordinator under `/dashboard/`, built into
 * `dist/dashboard/` at the repository root. The dev server (`deno task dev`) proxies `/api` to a
 * running coordinator, `TESSERA_URL` or http://127.0.0.1:8787.
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
  base: "/dashboard/",
  // Pre-bundled dependencies live with the other packages, not among the sources.
  cacheDir: fileURLToPath(new URL("../node_modules/.vite/dashboard/", import.meta.url)),
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard/", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 300,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: { "/api": { target: coordinator, changeOrigin: true } },
  },
});
