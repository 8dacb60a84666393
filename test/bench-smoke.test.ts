import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runNodeEntry } from './helpers/run-node.js';

// A smoke test of the benchmark itself: every scenario runs and checks its own deliveries. No thresholds:
// performance lives in bench/RESULTS.md, not in timed tests.
describe('the benchmark', () => {
  it('runs every scenario in --quick mode with every delivery received once and verified', async () => {
    // A cluster of its own, so a benchmark someone runs meanwhile in .herald/bench is left alone.
    const home = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-'));
    await chmod(home, 0o755);
    const run = await runNodeEntry('bench/run.ts', ['--quick', '--home', home], { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_CLI: inject('temporalCli') });
    await rm(home, { recursive: true, force: true });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => /^\| (raw floor|throughput|latency|fan-out|retry load|health signals) \|/.test(line));
    expect(rows).toHaveLength(6);
    for (const row of rows.filter((line) => !line.startsWith('| health'))) {
      const [received, expected] = row.split('|').at(-2)!.trim().split(',')[0]!.split('/').map(Number);
      expect(received, row).toBe(expected);
    }
  }, 300_000);
});
