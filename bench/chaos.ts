/**
 * `npm run chaos -- [--deliveries 10000] [--quick]`: crashes every process of the stack in turn while
 * deliveries are in flight, then checks that nothing accepted was lost (docs/RELIABILITY.md).
 * Exits 1 when anything is lost, stuck, unverified, or the API answered a 5xx other than 503 or hung.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repositoryRoot } from '../src/stack/temporal.js';
import { runChaos, type ChaosReport } from './chaos-lib.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    deliveries: { type: 'string' },
    endpoints: { type: 'string', default: '50' },
    'flaky-share': { type: 'string', default: '0.1' },
    'gap-seconds': { type: 'string' },
    'down-seconds': { type: 'string', default: '5' },
    'settle-minutes': { type: 'string', default: '30' },
    'publish-concurrency': { type: 'string', default: '8' },
    verbose: { type: 'boolean', default: false },
  },
});

const quick = args.quick!;
const options = {
  deliveries: Number(args.deliveries ?? (quick ? 1000 : 10_000)),
  endpoints: Number(args.endpoints),
  flakyShare: Number(args['flaky-share']),
  gapMs: Number(args['gap-seconds'] ?? (quick ? 5 : 15)) * 1000,
  downMs: Number(args['down-seconds']) * 1000,
  settleTimeoutMs: Number(args['settle-minutes']) * 60_000,
  publishConcurrency: Number(args['publish-concurrency']),
  home: path.join(repositoryRoot, '.herald', 'chaos'),
  quiet: !args.verbose,
};
console.log(`chaos: ${JSON.stringify({ ...options, home: undefined })}`);
const report: ChaosReport = await runChaos(options);

const problems = {
  lost: report.lost,
  stuck: report.stuck,
  failed_early: report.failed_early,
  unverified_receipts: report.unverified_receipts,
  duplicate_delivery_ids: report.duplicate_delivery_ids,
  duplicate_events: report.duplicate_events,
  other_5xx: report.api.other_5xx,
  hangs: report.api.hangs,
  no_503_during_outage: report.api.answers_503_during_outage === 0 ? 1 : 0,
};
console.log(`
faults:      ${report.faults.map((fault) => `${fault.fault} @${fault.at_s}s (down ${fault.down_s}s)`).join('; ')}
accepted:    ${report.accepted} of ${report.events_published} events (${report.deliveries_expected} deliveries)
delivered:   ${report.delivered}
failed:      ${report.failed} (all after their whole schedule: ${report.failed_early === 0})
duplicates:  ${report.duplicates} (receipts beyond the first of a delivery; ${report.duplicate_delivery_ids} pairs under two delivery ids)
lost:        ${report.lost}
stuck:       ${report.stuck}
receipts:    ${report.receipts} (${report.unverified_receipts} failed verification)
API:         ${report.api.answers_503} × 503 (${report.api.answers_503_during_outage} while a dependency was down), ${report.api.other_5xx} other 5xx, ${report.api.hangs} hangs, ${report.api.connection_errors} connection errors, ${report.api.publish_retries} publish retries
restarts:    unexpected exits ${JSON.stringify(report.unexpected_exits)}
seconds:     ${JSON.stringify(report.seconds)}`);
if (report.lost_examples.length) console.log(`examples:\n  ${report.lost_examples.join('\n  ')}`);

const outDir = path.join(repositoryRoot, 'bench', 'out');
await mkdir(outDir, { recursive: true });
const file = path.join(outDir, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
await writeFile(file, JSON.stringify({ options: { ...options, home: undefined }, report }, null, 2));
console.log(`\nwritten to ${path.relative(repositoryRoot, file)}`);
const failedChecks = Object.entries(problems).filter(([, value]) => value > 0);
console.log(failedChecks.length ? `FAILED: ${failedChecks.map(([name, value]) => `${name}=${value}`).join(', ')}` : 'OK: lost = 0');
process.exit(failedChecks.length ? 1 : 0);
