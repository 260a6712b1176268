// deno-lint-ignore-file no-explicit-any -- JSON messages in tests
/**
 * Test helpers for raw sockets and for a caller on another address than loopback.
 *
 * @module
 */

/** A raw `/api/ws` client that records every message. */
export async function connectSocket(url: string, token?: string) {
  const ws = new WebSocket(
    url.replace(/^http/, "ws") + "/api/ws" + (token ? `?token=${encodeURIComponent(token)}` : ""),
  );
  const inbox: any[] = [];
  const waiters: Array<() => void> = [];
  ws.onmessage = (e) => {
    inbox.push(JSON.parse(e.data));
    waiters.splice(0).forEach((w) => w());
  };
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.onclose = (e) => r({ code: e.code, reason: e.reason })
  );
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let ref = 0;
  return {
    ws,
    inbox,
    closed,
    send: (m: unknown) => ws.send(typeof m === "string" ? m : JSON.stringify(m)),
    /** Waits for the next message matching `pred` (searching what already arrived first). */
    async next(pred: (m: any) => boolean, ms = 5000): Promise<any> {
      const deadline = Date.now() + ms;
      while (true) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) {
          throw new Error(`no matching message in ${ms} ms: ${JSON.stringify(inbox)}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    ref: () => ++ref,
    async close() {
      ws.close();
      await closed;
    },
  };
}

/**
 * An IPv4 address of this machine that is not loopback, or undefined. A connection to it from
 * this machine arrives from that address, so a coordinator listening on 0.0.0.0 sees a real
 * remote peer, with no seam in the code under test.
 */
export const OTHER_ADDRESS = Deno.networkInterfaces().find((i) =>
  i.family === "IPv4" && !i.address.startsWith("127.")
)?.address;

/**
 * One HTTP/1.1 request over a raw TCP connection, for headers `fetch` will not send as given
 * (`Host`). Resolves with the status and the raw body text.
 */
export async function rawHttp(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [
    `${method} ${path} HTTP/1.1`,
    ...Object.entries({
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(body).length),
      connection: "close",
      ...headers,
    }).map(([k, v]) => `${k}: ${v}`),
  ];
  await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body));
  let text = "";
  for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) text += chunk;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, text: text.slice(text.indexOf("\r\n\r\n") + 4) };
}
