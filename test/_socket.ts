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
 * Sends raw bytes over TCP (optionally half-closing) and reads the answer until it is whole (its
 * Content-Length is in), a 101, the end, or 5 s: for what `fetch` cannot send as given (a `Host`
 * header, bodies cut short, broken handshakes). A reset ends the read; what arrived is returned.
 */
export async function rawExchange(
  port: number,
  request: string,
  options: { halfClose?: boolean } = {},
): Promise<{ status: number; head: string; body: string; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(request));
    if (options.halfClose) await conn.closeWrite();
    const buf = new Uint8Array(16_384);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await Promise.race([
        conn.read(buf),
        new Promise<null>((r) => setTimeout(() => r(null), 5000)),
      ]);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      const [head, body] = text.split("\r\n\r\n", 2);
      if (body === undefined) continue;
      if (/^HTTP\/1\.1 101/.test(head!)) break;
      const length = Number(/content-length: *(\d+)/i.exec(head!)?.[1] ?? NaN);
      if (new TextEncoder().encode(body).length >= length) break;
    }
  } catch {
    /* reset: judged by what arrived */
  } finally {
    conn.close();
  }
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  return { status: Number(head.split(" ")[1]), head, body, text };
}

/** One HTTP/1.1 request over raw TCP with these headers; the status and the raw body text. */
export async function rawHttp(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; text: string }> {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    ...Object.entries({
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(body).length),
      connection: "close",
      ...headers,
    }).map(([k, v]) => `${k}: ${v}`),
  ];
  const res = await rawExchange(port, lines.join("\r\n") + "\r\n\r\n" + body);
  return { status: res.status, text: res.body };
}
