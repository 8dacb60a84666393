// Workflow functions only: every export here is a workflow type the worker registers. Their ids, signals, queries
// and types are in ./contracts.ts (test/workflow-histories.test.ts checks that the two agree).
export { deliveryWorkflow } from './delivery.js';
export { endpointHealthWorkflow } from './health.js';
export { fanoutWorkflow } from './fanout.js';
export { pingWorkflow } from './ping.js';
export { recoverWorkflow } from './recover.js';
export { replayDelivery } from './replay-delivery.js';
export { channelMessageWorkflow } from './channel-message.js';
