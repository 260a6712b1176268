/**
 * Job webhooks: once a job finishes (finish_jobs.ts arms `["job_hook_due", id]`), its summary is
 * POSTed to its `callbackUrl`, signed `x-tessera-signature: sha256=<hex HMAC-SHA256 of the body>`
 * with the coordinator's secret (`webhook.secret` in the data folder, made at first start; in KV
 * for a store without a folder). A delivery is claimed in KV before it is sent (so two
 * coordinators do not both send it), retried with backoff until a 2xx or `MAX_ATTEMPTS`, and its
 * success recorded in KV, so it is delivered once. Sending never blocks anything else: each POST
 * runs on its own, with a timeout.
 *
 * @module
 */
import type { JobWebhook } from "../../shared/protocol.ts";
import { backoffDelay } from "../../shared/backoff.ts";
import type { Ctx } from "../context.ts";
import { whileLocked } from "../store/committer.ts";
import {
  decodeJobHookDueKey,
  jobHookDueKey,
  jobHookDuePrefix,
  jobHookKey,
  webhookSecretKey,
} from "../store/keys.ts";
import type { WebhookState } from "./job_record.ts";
import { jobView, readJobEntry } from "./job_view.ts";

export const MAX_ATTEMPTS = 12;
const SEND_TIMEOUT_MS = 10_000;
const BACKOFF = { baseMs: 1000, maxMs: 5 * 60_000 };

/** The coordinator's signing secret (hex), made once and kept. */
export async function webhookSecret(kv: Deno.Kv, folder: string | null): Promise<string> {
  const fresh = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0"))
      .join("");
  if (folder) {
    const path = `${folder.replace(/\/$/, "")}/webhook.secret`;
    try {
      return (await Deno.readTextFile(path)).trim();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    try {
      await Deno.writeTextFile(path, fresh() + "\n", { createNew: true, mode: 0o600 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    return (await Deno.readTextFile(path)).trim();
  }
  const key = webhookSecretKey();
  await whileLocked(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, fresh()).commit()
  );
  return (await kv.get<string>(key)).value!;
}

/** `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as the signature header carries. */
export async function signature(secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body)));
  return "sha256=" + Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface WebhookSender {
  /** One pass over due deliveries: starts each that is due, does not wait for them. */
  pass(): Promise<void>;
  /** Waits for the deliveries in flight. */
  drain(): Promise<void>;
}

export function webhookSender(ctx: Ctx, secret: string): WebhookSender {
  const inFlight = new Map<string, Promise<void>>();

  async function send(id: string, claimed: Deno.KvEntry<WebhookState>): Promise<void> {
    const state = claimed.value;
    const job = (await readJobEntry(ctx, id)).value;
    let error: string | null = null;
    if (job?.callbackUrl) {
      const payload: JobWebhook = {
        event: "job.finished",
        job: await jobView(ctx, job),
        deliveryId: state.deliveryId,
        sentAt: ctx.now(),
      };
      const body = JSON.stringify(payload);
      try {
        const res = await fetch(job.callbackUrl, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-tessera-signature": await signature(secret, body),
            "x-tessera-job": id,
            "x-tessera-delivery": state.deliveryId,
          },
          body,
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (e) {
        error = String(e instanceof Error ? e.message : e).slice(0, 500);
      }
    } else {
      error = "the job is gone";
    }
    const now = ctx.now();
    const delivered = error === null;
    const gaveUp = !delivered && (state.attempts >= MAX_ATTEMPTS || !job);
    const next: WebhookState = delivered
      ? { ...state, deliveredAt: now, lastError: null }
      : { ...state, lastError: error, nextAt: now + backoffDelay(state.attempts, BACKOFF), gaveUp };
    const mutations: Deno.KvMutation[] = [{ type: "set", key: jobHookKey(id), value: next }];
    if (delivered || gaveUp) mutations.push({ type: "delete", key: jobHookDueKey(id) });
    if (!delivered) {
      ctx.log.warn("job webhook not delivered", { job: id, error, attempt: state.attempts });
    }
    await ctx.committer.commit({
      checks: [{ key: claimed.key, versionstamp: claimed.versionstamp }],
      mutations,
    });
  }

  async function pass(): Promise<void> {
    for await (const due of ctx.kv.list({ prefix: jobHookDuePrefix() }, { limit: 500 })) {
      const { id } = decodeJobHookDueKey(due.key);
      if (inFlight.has(id)) continue;
      const hook = await ctx.kv.get<WebhookState>(jobHookKey(id));
      const now = ctx.now();
      if (!hook.value || hook.value.deliveredAt !== null) {
        await ctx.committer.commit({ checks: [], mutations: [{ type: "delete", key: due.key }] });
        continue;
      }
      if (hook.value.nextAt > now) continue;
      // Claimed for the send's length: another coordinator leaves it alone meanwhile.
      const claimed: WebhookState = {
        ...hook.value,
        attempts: hook.value.attempts + 1,
        nextAt: now + SEND_TIMEOUT_MS + 5000,
      };
      const op = await whileLocked(() =>
        ctx.kv.atomic().check(hook).set(hook.key, claimed).commit()
      );
      if (!op.ok) continue;
      const entry = { key: hook.key, value: claimed, versionstamp: op.versionstamp };
      const p = send(id, entry)
        .catch((e) => ctx.log.warn("job webhook failed", { job: id, error: String(e) }))
        .finally(() => inFlight.delete(id));
      inFlight.set(id, p);
    }
  }

  return {
    pass,
    async drain() {
      await Promise.all(inFlight.values());
    },
  };
}
