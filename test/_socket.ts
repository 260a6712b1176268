// deno-lint-ignore-file no-explicit-any -- JSON messages in tests
/** A raw socket client for tests: connects to /api/ws and records every message. */
export async function connectSocket(url: string) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/api/ws");
  const inbox: any[] = [];
  const waiters: Array<() => void> = [];
  let closed: { code: number; reason: string } | null = null;
  ws.onmessage = (e) => {
    inbox.push(JSON.parse(e.data));
    waiters.splice(0).forEach((w) => w());
  };
  const closedP = new Promise<{ code: number; reason: string }>((r) =>
    ws.onclose = (e) => {
      closed = { code: e.code, reason: e.reason };
      r(closed);
    }
  );
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let ref = 0;
  return {
    ws,
    inbox,
    closedP,
    get closed() {
      return closed;
    },
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
      await closedP;
    },
  };
}
