/**
 * The store's key layout carries a version (`["meta", "layout"]`). At start the coordinator
 * brings an older store up to `LAYOUT_VERSION` one migration at a time, each in bounded commits
 * that record how far they got, so a migration cut short by a crash resumes where it stopped
 * and running one twice changes nothing. A store newer than this code is refused: an older
 * coordinator would misread it.
 *
 * Several coordinators may start at once on one store: each migration step is idempotent, and
 * the version is raised with a check, so they may race without harm.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import {
  isLegacyReadyKey,
  layoutKey,
  legacyHolderPrefix,
  legacyLeaseExpiryPrefix,
  legacyReadySignalKey,
  migrationCursorKey,
  readyIndexPrefix,
  taskKey,
} from "./keys.ts";
import type { StoredTask } from "./task_view.ts";
import { backfillStep } from "./list_index.ts";
import { backfillWaitCounts } from "./wait_counts.ts";

/** The layout this code reads and writes. */
export const LAYOUT_VERSION = 7;

/** The store was written by a newer Tessera. */
export class LayoutTooNewError extends Error {
  override name = "LayoutTooNewError";
  constructor(readonly found: number) {
    super(
      `the store's key layout is version ${found}, newer than this coordinator's ${LAYOUT_VERSION}: ` +
        "upgrade Tessera, or point --db at another store",
    );
  }
}

interface Migration {
  /** The version it produces; it runs on a store at `to - 1`. */
  to: number;
  what: string;
  /**
   * Does one bounded step from `cursor` (null at first) and returns the next cursor, or null
   * when done. Each step must be idempotent: it may run again after a crash.
   */
  step(ctx: Ctx, cursor: string | null): Promise<string | null>;
}

const MIGRATIONS: Migration[] = [
  {
    to: 2,
    what: "ready signals per (queue, type)",
    async step(ctx) {
      // The old single signal counter is read by nobody now.
      await ctx.kv.delete(legacyReadySignalKey());
      return null;
    },
  },
  { to: 3, what: "list indexes by status and owner", step: backfillStep },
  { to: 4, what: "fair-share places in ready keys", step: readyPlaceStep },
  { to: 5, what: "wait counts (why open work waits)", step: backfillWaitCounts },
  { to: 6, what: "no lease expiry index (leases are scanned)", step: dropLeaseExpiryIndex },
  { to: 7, what: "holders in the task record (no holder markers)", step: foldHolderMarkers },
];

const DROP_CHUNK = 500;

/** Deletes layout 5's lease expiry index, a chunk per step: nothing reads it now. */
async function dropLeaseExpiryIndex(ctx: Ctx): Promise<string | null> {
  const chunk = await Array.fromAsync(
    ctx.kv.list({ prefix: legacyLeaseExpiryPrefix() }, { limit: DROP_CHUNK }),
  );
  const op = ctx.kv.atomic();
  for (const e of chunk) op.delete(e.key);
  if (chunk.length > 0) await op.commit();
  return chunk.length < DROP_CHUNK ? null : "more";
}

/**
 * Moves layout 6's holder markers into their tasks' records (`holding`), a chunk of markers per
 * step: a task's record gains its markers and loses them as keys in one commit, checked, so a
 * step cut short or raced leaves each task either as it was or done. A marker whose task is gone
 * is debris.
 */
async function foldHolderMarkers(ctx: Ctx): Promise<string | null> {
  const chunk = await Array.fromAsync(
    ctx.kv.list({ prefix: legacyHolderPrefix() }, { limit: DROP_CHUNK }),
  );
  const byTask = Map.groupBy(chunk, (e) => String(e.key[1]));
  for (const [taskId, markers] of byTask) {
    const task = await ctx.kv.get<StoredTask>(taskKey(taskId));
    const op = ctx.kv.atomic().check(task);
    for (const m of markers) op.delete(m.key);
    if (task.value) {
      const holding = new Set([
        ...task.value.holding ?? [],
        ...markers.map((m) => String(m.key[2])),
      ]);
      op.set(task.key, { ...task.value, holding: [...holding] });
    }
    // Refused: the task changed meanwhile; the next step reads it again.
    await op.commit();
  }
  return chunk.length < DROP_CHUNK ? null : "more";
}

const READY_CHUNK = 400;

/**
 * Gives each ready entry of layout 3 (`[ready, queue, type, prio, id, slot]`) its fair-share
 * place, 0, the place a record without `fair` has (`[ready, queue, type, prio, 0, id, slot]`).
 */
async function readyPlaceStep(ctx: Ctx, cursor: string | null): Promise<string | null> {
  const prefix = readyIndexPrefix();
  const selector = cursor === null
    ? { prefix }
    : { prefix, start: JSON.parse(cursor) as Deno.KvKey };
  const chunk = await Array.fromAsync(ctx.kv.list(selector, { limit: READY_CHUNK }));
  const write = async (entries: Deno.KvEntry<unknown>[]) => {
    const op = ctx.kv.atomic();
    for (const e of entries) {
      op.check(e).delete(e.key).set([...e.key.slice(0, 4), 0, ...e.key.slice(4)], e.value);
    }
    return (await op.commit()).ok;
  };
  const legacy = chunk.filter((e) => isLegacyReadyKey(e.key));
  // An entry claimed meanwhile: one by one, so only that one is left as it is now.
  if (legacy.length > 0 && !await write(legacy)) { for (const e of legacy) await write([e]); }
  return chunk.length < READY_CHUNK ? null : JSON.stringify(chunk.at(-1)!.key);
}

/** Version 1 had no version key; a store with no keys at all is new. */
async function storedVersion(ctx: Ctx): Promise<{ version: number; stamp: string | null }> {
  const v = await ctx.kv.get<number>(layoutKey());
  if (v.value !== null) return { version: v.value, stamp: v.versionstamp };
  for await (const _ of ctx.kv.list({ prefix: [] }, { limit: 1 })) {
    return { version: 1, stamp: null };
  }
  return { version: LAYOUT_VERSION, stamp: null };
}

/** Brings the store to `LAYOUT_VERSION`; returns the migrations it ran. */
export async function migrateLayout(ctx: Ctx): Promise<string[]> {
  const ran: string[] = [];
  while (true) {
    const { version, stamp } = await storedVersion(ctx);
    if (version > LAYOUT_VERSION) throw new LayoutTooNewError(version);
    if (version === LAYOUT_VERSION) {
      if (stamp === null) {
        await ctx.kv.atomic().check({ key: layoutKey(), versionstamp: null })
          .set(layoutKey(), LAYOUT_VERSION).commit();
      }
      return ran;
    }
    const m = MIGRATIONS.find((x) => x.to === version + 1);
    if (!m) throw new Error(`no migration from key layout ${version} to ${version + 1}`);
    ctx.log.info("migrating the store's key layout", { from: version, to: m.to, what: m.what });
    let cursor = (await ctx.kv.get<string>(migrationCursorKey(m.to))).value;
    do {
      cursor = await m.step(ctx, cursor);
      if (cursor !== null) await ctx.kv.set(migrationCursorKey(m.to), cursor);
    } while (cursor !== null);
    await ctx.kv.atomic()
      .check({ key: layoutKey(), versionstamp: stamp })
      .set(layoutKey(), m.to)
      .delete(migrationCursorKey(m.to))
      .commit();
    ran.push(m.what);
  }
}
