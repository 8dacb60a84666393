import { createHash } from 'node:crypto';
import type { Sql } from '../db/client.js';

/**
 * Rate limits shared by every API process: hits are counted per subject in PostgreSQL (`rate_windows`), in a window
 * that starts at the subject's first hit, so three replicas do not triple an allowance. Used for failed
 * authentications (per client address and per presented key prefix) and for test sends (per tenant).
 */
export interface RateVerdict {
  limited: boolean;
  retryAfterMs: number;
}

export interface RateWindows {
  /** Counts one hit for each subject; limited once any of them is over the limit in its current window. */
  hit(subjects: string[]): Promise<RateVerdict>;
}

export function createRateWindows(sql: Sql, options: { limit: number; windowMs: number; now?: () => number }): RateWindows {
  const now = options.now ?? Date.now;
  // Subjects this process already saw limited, until their window ends: a flood is answered without a write each.
  const limitedUntil = new Map<string, number>();
  let lastSweep = 0;

  const knownLimited = (subjects: string[]): number | undefined => {
    const at = now();
    let until: number | undefined;
    for (const subject of subjects) {
      const end = limitedUntil.get(subject);
      if (end === undefined) continue;
      if (end <= at) limitedUntil.delete(subject);
      else until = Math.max(until ?? 0, end);
    }
    return until;
  };

  return {
    async hit(subjects) {
      const cached = knownLimited(subjects);
      if (cached !== undefined) return { limited: true, retryAfterMs: cached - now() };
      const windowMs = options.windowMs;
      // A subject's window starts at its first hit; the first hit after it ends starts a new one.
      const rows = await sql<{ subject: string; hits: number; window_ends_in_ms: number }[]>`
        insert into rate_windows as counted (subject, window_start, window_ms, hits)
        select subject, now(), ${windowMs}, 1 from unnest(${sql.array(subjects)}::text[]) as subject
        on conflict (subject) do update set
          hits = case when counted.window_start <= now() - make_interval(secs => ${windowMs / 1000}) then 1 else counted.hits + 1 end,
          window_start = case when counted.window_start <= now() - make_interval(secs => ${windowMs / 1000}) then now() else counted.window_start end,
          window_ms = ${windowMs}
        returning subject, hits, ceil(extract(epoch from (window_start + make_interval(secs => ${windowMs / 1000}) - now())) * 1000)::int as window_ends_in_ms`;
      if (now() - lastSweep > 60_000) {
        lastSweep = now();
        void sql`delete from rate_windows where window_start + make_interval(secs => window_ms / 1000.0) < now()`.catch(() => {});
      }
      const over = rows.filter((row) => row.hits > options.limit);
      if (over.length === 0) return { limited: false, retryAfterMs: 0 };
      if (limitedUntil.size > 100_000) limitedUntil.clear();
      for (const row of over) limitedUntil.set(row.subject, now() + row.window_ends_in_ms);
      return { limited: true, retryAfterMs: Math.max(1, ...over.map((row) => row.window_ends_in_ms)) };
    },
  };
}

/** Characters of a presented key that identify it as a subject (`sk_` and 9 more). */
const keyPrefixLength = 12;

/**
 * What one failed authentication counts against: its client address, and the prefix of the key it presented (hashed,
 * so no part of a key is stored).
 */
export function authFailureSubjects(clientAddress: string, presentedKey: string | undefined): string[] {
  const subjects = [`auth:address:${clientAddress}`];
  if (presentedKey) subjects.push(`auth:key:${createHash('sha256').update(presentedKey.slice(0, keyPrefixLength)).digest('hex').slice(0, 24)}`);
  return subjects;
}
