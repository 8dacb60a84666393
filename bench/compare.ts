/**
 * Before/after in one sitting: `npm run bench:compare -- --baseline <git ref> [--scenario throughput,fanout]`
 * compares a commit with the working tree; `--baseline-env K=V` / `--candidate-env K=V` compare settings
 * (both arms on the working tree unless a ref is given). The arms alternate (A B A B …) so drift and noise
 * fall on both, both run today's harness (bench/ is copied into the baseline's worktree), and the table gives
 * each arm's runs, their medians and candidate / baseline.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileAsync } from '../src/stack/process.js';
import { ensureTemporalCli, repositoryRoot } from '../src/stack/temporal.js';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    candidate: { type: 'string' },
    'baseline-env': { type: 'string', multiple: true, default: [] },
    'candidate-env': { type: 'string', multiple: true, default: [] },
    scenario: { type: 'string', default: 'throughput,latency,fanout' },
    rounds: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
  },
});

interface Arm {
  name: 'baseline' | 'candidate';
  ref?: string;
  env: Record<string, string>;
  directory: string;
  runs: Array<Record<string, Record<string, number>>>;
}

const workRoot = path.join(repositoryRoot, '.herald', 'compare');
const parseEnv = (pairs: string[]) =>
  Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`expected KEY=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );

/** A detached worktree of `ref` running the current harness against that commit's code. */
async function checkout(ref: string): Promise<string> {
  const { stdout } = await execFileAsync('git', ['rev-parse', '--short', ref], { cwd: repositoryRoot });
  const sha = stdout.trim();
  const directory = path.join(workRoot, `tree-${sha}`);
  if (!existsSync(directory)) await execFileAsync('git', ['worktree', 'add', '--detach', directory, sha], { cwd: repositoryRoot });
  if (!existsSync(path.join(directory, 'node_modules'))) await symlink(path.join(repositoryRoot, 'node_modules'), path.join(directory, 'node_modules'));
  const results = path.join(repositoryRoot, 'bench', 'out');
  await cp(path.join(repositoryRoot, 'bench'), path.join(directory, 'bench'), { recursive: true, filter: (source) => source !== results });
  return directory;
}

function runBench(arm: Arm, round: number, cli: string): Promise<void> {
  const out = path.join(workRoot, `${arm.name}-${round}.json`);
  const benchArgs = ['--import', 'tsx', 'bench/run.ts', '--scenario', `floor,${args.scenario}`, '--home', path.join(workRoot, 'home'), '--out', out];
  if (args.quick) benchArgs.push('--quick');
  if (args.sizes) benchArgs.push('--sizes', args.sizes);
  console.log(`\n== ${arm.name} (${arm.ref ?? 'working tree'}${Object.keys(arm.env).length ? `, ${JSON.stringify(arm.env)}` : ''}), round ${round + 1}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, benchArgs, { cwd: arm.directory, env: { ...process.env, TEMPORAL_CLI: cli, ...arm.env }, stdio: 'inherit' });
    child.on('exit', async (code) => {
      if (code !== 0) return reject(new Error(`${arm.name} round ${round + 1} exited with ${code}`));
      const { results } = JSON.parse(await readFile(out, 'utf8')) as { results: Array<{ scenario: string; figures: Record<string, number | string> }> };
      arm.runs.push(Object.fromEntries(results.map((result) => [result.scenario, Object.fromEntries(Object.entries(result.figures).filter(([, value]) => typeof value === 'number')) as Record<string, number>])));
      resolve();
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

await mkdir(workRoot, { recursive: true });
const cli = await ensureTemporalCli();
const arms: Arm[] = [
  { name: 'baseline', ref: args.baseline, env: parseEnv(args['baseline-env']!), directory: args.baseline ? await checkout(args.baseline) : repositoryRoot, runs: [] },
  { name: 'candidate', ref: args.candidate, env: parseEnv(args['candidate-env']!), directory: args.candidate ? await checkout(args.candidate) : repositoryRoot, runs: [] },
];
const rounds = Number(args.rounds);
for (let round = 0; round < rounds; round++) for (const arm of arms) await runBench(arm, round, cli);

const [baseline, candidate] = arms as [Arm, Arm];
console.log(`\nbaseline: ${baseline.ref ?? 'working tree'} ${JSON.stringify(baseline.env)}; candidate: ${candidate.ref ?? 'working tree'} ${JSON.stringify(candidate.env)}; ${rounds} rounds, alternating`);
console.log('| scenario | figure | baseline runs | candidate runs | candidate / baseline (medians) |');
console.log('|---|---|---|---|---|');
for (const [scenario, figures] of Object.entries(baseline.runs[0] ?? {})) {
  for (const figure of Object.keys(figures)) {
    const before = baseline.runs.map((run) => run[scenario]?.[figure]).filter((value): value is number => value !== undefined);
    const after = candidate.runs.map((run) => run[scenario]?.[figure]).filter((value): value is number => value !== undefined);
    if (!after.length || before.every((value) => value === after[0]) && after.every((value) => value === after[0])) continue;
    const ratio = median(before) ? Math.round((median(after) / median(before)) * 100) / 100 : NaN;
    console.log(`| ${scenario} | ${figure} | ${before.join(', ')} | ${after.join(', ')} | ${ratio} |`);
  }
}
for (const arm of arms) if (arm.ref) await execFileAsync('git', ['worktree', 'remove', '--force', arm.directory], { cwd: repositoryRoot });
await rm(path.join(workRoot, 'home'), { recursive: true, force: true });
