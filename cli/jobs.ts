/**
 * `deno task jobs`: jobs from the command line: submit a file of inputs and watch it finish,
 * read a job's status and results, cancel, retry, close, delete, list. Progress goes to stderr
 * (a bar on a terminal, plain or JSON lines otherwise), data to stdout, so
 * `deno task jobs results ID > out.ndjson` keeps only the results.
 *
 * @example
 * ```sh
 * deno task jobs submit primes.count --inputs ranges.ndjson
 * deno task jobs results 01J… --order input > counts.ndjson
 * ```
 *
 * @module
 */
import { ApiRequestError, createClient } from "../shared/client.ts";
import type { Job, JobStatus } from "../shared/protocol.ts";
import { parseJobsArgs } from "./jobs_args.ts";
import { progressReporter } from "./progress.ts";
import { InputsError, readInputs } from "./read_inputs.ts";

/** What the command touches of the world, so tests can run it in-process too. */
export interface JobsIo {
  stdout(text: string): Promise<void>;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  /** Whether stderr is a terminal (a live bar) or not (plain lines). */
  tty: boolean;
}

export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, unreachable: 3 });

const enc = new TextEncoder();

/** Deno's own streams; stdout written through to the end even into a slow pipe. */
export function denoIo(): JobsIo {
  return {
    async stdout(text) {
      const bytes = enc.encode(text);
      for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
    },
    stderr: (text) => {
      const bytes = enc.encode(text);
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
    },
    readStdin: () => new Response(Deno.stdin.readable).text(),
    readFile: (path) => Deno.readTextFile(path),
    tty: Deno.stderr.isTerminal(),
  };
}

const exitFor = (status: JobStatus) =>
  status === "failed" || status === "cancelled" ? EXIT.failed : EXIT.ok;

/**
 * Runs one command; resolves with the exit status.
 *
 * @example
 * ```ts
 * Deno.exit(await runJobs(Deno.args, Deno.env.toObject(), denoIo()));
 * ```
 */
export async function runJobs(
  argv: string[],
  env: Record<string, string>,
  io: JobsIo,
): Promise<number> {
  const parsed = parseJobsArgs(argv, env);
  if (parsed.kind === "help") {
    await io.stdout(parsed.text + "\n");
    return EXIT.ok;
  }
  if (parsed.kind === "usage") {
    io.stderr(`jobs: ${parsed.message} (deno task jobs --help)\n`);
    return EXIT.usage;
  }
  const a = parsed.args;
  const tessera = createClient({
    baseUrl: a.coordinators,
    ...(a.token !== undefined ? { token: a.token } : {}),
  });
  const progress = progressReporter({ tty: io.tty, format: a.logFormat, write: io.stderr });
  const json = (v: unknown) => io.stdout(JSON.stringify(v) + "\n");
  const id = a.target ?? "";

  try {
    switch (a.command) {
      case "submit": {
        let inputs: unknown[];
        try {
          const file = a.inputs!;
          inputs = readInputs(file === "-" ? await io.readStdin() : await io.readFile(file));
        } catch (e) {
          const why = e instanceof InputsError
            ? e.message
            : `cannot read it: ${(e as Error).message}`;
          io.stderr(`jobs: --inputs ${a.inputs}: ${why}\n`);
          return EXIT.usage;
        }
        const job = await tessera.createJob(a.target!, inputs, {
          ...(a.name !== undefined ? { name: a.name } : {}),
          ...(a.queue !== undefined ? { queue: a.queue } : {}),
          ...(a.priority !== undefined ? { priority: a.priority } : {}),
          ...(a.maxAttempts !== undefined ? { maxAttempts: a.maxAttempts } : {}),
          ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}),
        });
        await io.stdout(job.id + "\n");
        if (a.detach) return EXIT.ok;
        const final = await job.wait({
          intervalMs: io.tty ? 250 : 500,
          onStatus: (j) => progress.update(j),
        });
        progress.done(final);
        return exitFor(final.status);
      }
      case "status": {
        const job = await tessera.job(id).status();
        await json(job);
        return exitFor(job.status);
      }
      case "results": {
        const job = tessera.job(id);
        let bad = false;
        // While following, the job's status feeds the progress on stderr.
        let watching = a.follow;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let inflight: Promise<unknown> = Promise.resolve();
        const watch = () => {
          inflight = job.status().then((j) => watching && progress.update(j), () => {}).then(
            () => {
              if (watching) timer = setTimeout(watch, io.tty ? 250 : 1000);
            },
          );
        };
        if (watching) watch();
        try {
          let batch = "";
          for await (
            const line of job.results({
              follow: a.follow,
              order: a.order,
              ...(a.after !== undefined ? { after: a.after } : {}),
            })
          ) {
            if (line.status !== "completed") bad = true;
            batch += JSON.stringify(line) + "\n";
            if (batch.length >= 64 * 1024) {
              await io.stdout(batch);
              batch = "";
            }
          }
          if (batch) await io.stdout(batch);
        } finally {
          watching = false;
          clearTimeout(timer);
          await inflight;
        }
        if (a.follow) progress.done(await job.status());
        return bad ? EXIT.failed : EXIT.ok;
      }
      case "cancel":
      case "retry": {
        const { job, affected } = await tessera.job(id)[a.command]();
        await json({ id: job.id, status: job.status, affected });
        return EXIT.ok;
      }
      case "close": {
        const job = await tessera.job(id).close();
        await json({ id: job.id, status: job.status, open: job.open });
        return EXIT.ok;
      }
      case "delete": {
        await json(await tessera.job(id).delete());
        return EXIT.ok;
      }
      case "list": {
        const page = await tessera.jobs({
          ...(a.status !== undefined ? { status: a.status as JobStatus } : {}),
          ...(a.limit !== undefined ? { limit: a.limit } : {}),
        });
        const row = (j: Job) =>
          a.logFormat === "json" ? JSON.stringify(j) : [
            j.id,
            j.status,
            `${j.progress.finished}/${j.progress.total}`,
            j.type,
            j.name ?? "",
          ].join("\t");
        await io.stdout(page.jobs.map((j) => row(j) + "\n").join(""));
        return EXIT.ok;
      }
    }
  } catch (e) {
    if (e instanceof ApiRequestError) {
      const field = e.field ? ` (${e.field})` : "";
      io.stderr(`jobs: the coordinator refused: ${e.code}: ${e.message}${field}\n`);
    } else if (e instanceof TypeError) {
      io.stderr(`jobs: cannot reach ${a.coordinators.join(", ")}: ${e.message}\n`);
    } else {
      io.stderr(`jobs: ${(e as Error).message}\n`);
    }
    return EXIT.unreachable;
  }
}

if (import.meta.main) Deno.exit(await runJobs(Deno.args, Deno.env.toObject(), denoIo()));
