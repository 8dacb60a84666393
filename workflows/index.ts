export * from './ping.js';
export * from './delivery.js';
export * from './fanout.js';
export * from './health.js';
export * from './recover.js';
