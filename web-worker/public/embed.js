/*
 * Tessera's "donate compute" box, for any page: one tag,
 *
 *   <script src="https://GRID-HOST/embed.js" async></script>
 *
 * inserts an iframe of GRID-HOST/embed where the tag is. Nothing runs before the visitor presses
 * Start in the box. Options, as attributes of the tag: data-theme="light|dark" (default: the
 * visitor's system), data-width (CSS, default "100%", at most 420px unless data-max-width says
 * otherwise), data-title (the iframe's accessible name). The box reports its height, and the
 * iframe follows it (starting at 370px). The README has the iframe to write by hand instead.
 */
(() => {
  const script = document.currentScript;
  if (!script || !script.src) return;
  const data = script.dataset;
  const url = new URL("/embed", script.src);
  if (data.theme === "light" || data.theme === "dark") url.searchParams.set("theme", data.theme);
  const frame = document.createElement("iframe");
  frame.src = url.href;
  frame.title = data.title || "Donate compute";
  frame.loading = "eager";
  frame.setAttribute("data-tessera-embed", "");
  frame.style.cssText = "display:block;border:0;color-scheme:normal;background:transparent;" +
    "width:" + (data.width || "100%") + ";max-width:" + (data.maxWidth || "420px") + ";" +
    "min-width:260px;height:370px";
  globalThis.addEventListener("message", (e) => {
    if (e.source !== frame.contentWindow || e.origin !== url.origin) return;
    const m = e.data;
    if (m && m.type === "tessera-embed-height" && m.height > 0 && m.height < 4000) {
      frame.style.height = Math.ceil(m.height) + "px";
    }
  });
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
