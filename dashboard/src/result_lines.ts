/**
 * A few lines of a job's results stream (`GET /api/jobs/{id}/results`, NDJSON), read line by line
 * and cancelled as soon as enough are in: a preview never downloads a big job's whole stream.
 *
 * @module
 */
import type { JobResultLine } from "../../shared/protocol.ts";
import { authHeaders } from "./admin_key.ts";
import { API, ApiCallError } from "./api.ts";

export interface ReadLinesOptions {
  /** Lines to keep (those `keep` accepts). */
  want: number;
  /** Lines to read at most, kept or not, before giving up. @default want */
  scan?: number;
  keep?: (line: JobResultLine) => boolean;
  order?: "input" | "completion";
}

/** The first `want` lines of job `id`'s results (in input order unless told) that `keep` takes. */
export async function readResultLines(
  id: string,
  { want, scan = want, keep = () => true, order = "input" }: ReadLinesOptions,
): Promise<JobResultLine[]> {
  const res = await fetch(`${API}/jobs/${encodeURIComponent(id)}/results?order=${order}`, {
    headers: authHeaders(),
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new ApiCallError(res.status, `results: ${res.status} ${res.statusText}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const lines: JobResultLine[] = [];
  let buffer = "";
  let read = 0;
  try {
    while (lines.length < want && read < scan) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0 && lines.length < want && read < scan) {
        const text = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (!text) continue;
        read++;
        const line = JSON.parse(text) as JobResultLine;
        if (keep(line)) lines.push(line);
      }
    }
  } finally {
    // Ends the request: the coordinator stops reading the job's results.
    await reader.cancel().catch(() => {});
  }
  return lines;
}
