import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos } from '../bench/chaos-lib.js';

/**
 * `npm run chaos`, reduced: a stack of its own (PostgreSQL, Temporal on SQLite, worker and API as
 * processes), 800 deliveries to 20 endpoints (2 flaky) while the worker, the API and Temporal are
 * killed with SIGKILL and PostgreSQL is stopped with -m immediate, each restarted in turn.
 */
describe('chaos: every process crashes while deliveries are in flight', () => {
  let home: string | undefined;
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('loses nothing, verifies every receipt and answers 503 (never 500, never a hang) while a dependency is down', async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'herald-chaos-'));
    // initdb runs as the postgres user when the tests run as root.
    await chmod(home, 0o777);
    const lines: string[] = [];
    const report = await runChaos({
      deliveries: 800,
      endpoints: 20,
      flakyShare: 0.1,
      gapMs: 3000,
      downMs: 3000,
      settleTimeoutMs: 60_000,
      publishConcurrency: 4,
      home,
      quiet: true,
      log: (line) => lines.push(line),
    });
    const context = JSON.stringify({ ...report, log: lines }, null, 1);
    console.log(`chaos (reduced): ${JSON.stringify({ ...report, lost_examples: undefined })}\n${lines.join('\n')}`);
    expect(report.faults.map((fault) => fault.fault), context).toHaveLength(4);
    expect(report.accepted, context).toBe(report.events_published);
    expect(report.delivered + report.failed, context).toBe(report.deliveries_expected);
    expect(report.lost_examples, context).toEqual([]);
    expect(report.lost, context).toBe(0);
    expect(report.stuck, context).toBe(0);
    expect(report.failed_early, context).toBe(0);
    expect(report.unverified_receipts, context).toBe(0);
    expect(report.duplicate_delivery_ids, context).toBe(0);
    expect(report.duplicate_events, context).toBe(0);
    expect(report.api.other_5xx, context).toBe(0);
    expect(report.api.hangs, context).toBe(0);
    expect(report.api.answers_503_during_outage, context).toBeGreaterThan(0);
  }, 180_000);
});
