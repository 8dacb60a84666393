import { Command } from 'commander';
import { runDev } from './dev.js';

const program = new Command('herald').description('Herald: self-hosted webhook delivery').version('0.1.0');

program
  .command('dev')
  .description('run PostgreSQL, the Temporal dev server, the worker and the API locally')
  .action(async () => {
    await runDev();
  });

await program.parseAsync(process.argv);
