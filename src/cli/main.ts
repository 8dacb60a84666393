import { Command } from 'commander';
import { runDev } from './dev.js';
import { registerWebhooksCommands } from './webhooks.js';
import { registerOperatorCommands } from './operators.js';
import { registerChannelCommands } from './channels.js';

const program = new Command('herald').description('Herald: self-hosted webhook delivery').version('0.1.0');

program
  .command('dev')
  .description('run PostgreSQL, the Temporal dev server, the worker and the API locally')
  .action(async () => {
    await runDev();
  });

registerWebhooksCommands(program);
registerOperatorCommands(program);
registerChannelCommands(program);

await program.parseAsync(process.argv);
