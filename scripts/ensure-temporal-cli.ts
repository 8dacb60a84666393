import { ensureTemporalCli } from '../src/stack/temporal.js';

console.log(`temporal CLI: ${await ensureTemporalCli()}`);
