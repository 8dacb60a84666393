import type { Context } from '@temporalio/activity';

const heartbeatEveryMs = 2000;

/**
 * Heartbeats while a long step runs; returns the function that stops it. A local activity (the first
 * attempt) has no heartbeat: the SDK keeps its workflow task alive instead.
 */
export function keepAlive(context: Context): () => void {
  if (context.info.isLocal) return () => {};
  const timer = setInterval(() => context.heartbeat(), heartbeatEveryMs);
  return () => clearInterval(timer);
}
