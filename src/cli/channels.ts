import type { Command } from 'commander';
import { enc, nextPage, operatorAction, positiveInteger, query, tenantCommand } from './operators.js';
import { formatFields, formatTable, printJson } from './output.js';

/**
 * `herald channels`: a tenant's notification channels (email, Slack) through the HTTP API, like the operator
 * commands: list, create, show, test, delete, and `messages` for what a channel sent and each try's answer.
 */
export function registerChannelCommands(program: Command): void {
  const channels = program.command('channels').description("a tenant's notification channels (email, Slack): list, create, test and their messages");

  tenantCommand(channels, 'list', 'list notification channels')
    .option('--limit <n>', 'page size (1-100)', positiveInteger, 50)
    .option('--cursor <cursor>', 'the next page, from a previous answer')
    .action(
      operatorAction(async ({ api, tenantPath, options }) => {
        const page = await api('GET', `${tenantPath()}/channels${query({ limit: options.limit, cursor: options.cursor })}`);
        if (options.json) return printJson(page);
        console.log(
          formatTable(page.data, [
            { header: 'ID', value: (channel: any) => channel.id },
            { header: 'TYPE', value: (channel: any) => channel.type },
            { header: 'ACTIVE', value: (channel: any) => (channel.active ? 'yes' : 'no') },
            { header: 'TO', value: (channel: any) => (channel.type === 'email' ? channel.to : channel.webhook_url), max: 60 },
            { header: 'EVENTS', value: (channel: any) => channel.events, max: 80 },
          ]),
        );
        nextPage(page);
      }),
    );

  tenantCommand(channels, 'create', 'create a channel: --email <address...> or --slack <webhook_url>')
    .option('--email <address...>', 'an email channel to these recipients')
    .option('--slack <webhook_url>', 'a Slack channel posting to this incoming webhook')
    .option('--events <type...>', 'operational event types (default: all of them) and catalog event types')
    .option('--description <text>', 'what it is for')
    .action(
      operatorAction(async ({ api, tenantPath, options }) => {
        if (Boolean(options.email) === Boolean(options.slack)) throw new Error('pass either --email <address...> or --slack <webhook_url>');
        const body = {
          ...(options.email ? { type: 'email', to: options.email } : { type: 'slack', webhook_url: options.slack }),
          ...(options.events ? { events: options.events } : {}),
          ...(options.description ? { description: options.description } : {}),
        };
        const channel = await api('POST', `${tenantPath()}/channels`, body);
        if (options.json) return printJson(channel);
        console.log(`channel ${channel.id} (${channel.type}) created for ${channel.events.join(', ')}`);
      }),
    );

  tenantCommand(channels, 'show', 'show one channel and its latest messages')
    .argument('<channel_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const channel = await api('GET', `${tenantPath()}/channels/${enc(id!)}`);
        const messages = await api('GET', `${tenantPath()}/channels/${enc(id!)}/messages?limit=10`);
        if (options.json) return printJson({ ...channel, recent_messages: messages.data });
        console.log(
          formatFields([
            ['id', channel.id],
            ['type', channel.type],
            [channel.type === 'email' ? 'to' : 'webhook url', channel.type === 'email' ? channel.to : channel.webhook_url],
            ['events', channel.events],
            ['active', channel.active ? 'yes' : 'no'],
            ['description', channel.description],
          ]),
        );
        if (messages.data.length > 0) console.log(`\nlatest messages:\n${messageTable(messages.data)}`);
      }),
    );

  tenantCommand(channels, 'messages', "a channel's messages, newest first, with each try")
    .argument('<channel_id>')
    .option('--limit <n>', 'page size (1-100)', positiveInteger, 20)
    .option('--cursor <cursor>', 'the next page, from a previous answer')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const page = await api('GET', `${tenantPath()}/channels/${enc(id!)}/messages${query({ limit: options.limit, cursor: options.cursor })}`);
        if (options.json) return printJson(page);
        console.log(messageTable(page.data));
        for (const message of page.data) {
          for (const attempt of message.attempt_log) {
            console.log(`  ${message.id} #${attempt.attempt} ${attempt.started_at} ${attempt.success ? 'ok' : `failed: ${attempt.error}`}`);
          }
        }
        nextPage(page);
      }),
    );

  tenantCommand(channels, 'test', 'send a test message to the channel now (exit 1 unless it was accepted)')
    .argument('<channel_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        const result = await api('POST', `${tenantPath()}/channels/${enc(id!)}/test`);
        if (!result.success) process.exitCode = 1;
        if (options.json) return printJson(result);
        console.log(`${result.success ? 'ok' : `failed: ${result.error}`} in ${result.duration_ms} ms${result.response ? `: ${result.response}` : ''}`);
      }),
    );

  tenantCommand(channels, 'delete', 'delete a channel, its messages and their attempt log')
    .argument('<channel_id>')
    .action(
      operatorAction(async ({ api, tenantPath, options, args: [id] }) => {
        await api('DELETE', `${tenantPath()}/channels/${enc(id!)}`);
        if (options.json) return printJson({ deleted: id });
        console.log(`channel ${id} deleted`);
      }),
    );
}

function messageTable(messages: any[]): string {
  return formatTable(messages, [
    { header: 'ID', value: (message) => message.id },
    { header: 'KIND', value: (message) => message.kind },
    { header: 'ENDPOINT', value: (message) => message.endpoint_id ?? '-' },
    { header: 'COUNT', value: (message) => message.occurrences },
    { header: 'STATUS', value: (message) => message.status },
    { header: 'TRIES', value: (message) => message.attempts },
    { header: 'SENT', value: (message) => message.sent_at ?? '-' },
    { header: 'LAST ERROR', value: (message) => message.last_error ?? '', max: 60 },
  ]);
}
