/**
 * A fixed-window counter per key, in process memory: enough to blunt brute force and floods from
 * one client against one API process (several API processes each keep their own count).
 */
export interface RateLimiter {
  /** Counts one hit for `key`; `allowed` is false once the window's limit is used up. */
  take(key: string, now?: number): { allowed: boolean; retryAfterMs: number };
  /** Whether a take() now would be allowed, without counting one. */
  peek(key: string, now?: number): { allowed: boolean; retryAfterMs: number };
  /** Forgets `key` (e.g. after a successful login). */
  reset(key: string): void;
}

export function createRateLimiter(options: { limit: number; windowMs: number; maxKeys?: number }): RateLimiter {
  const windows = new Map<string, { startedAt: number; count: number }>();
  const maxKeys = options.maxKeys ?? 100_000;
  return {
    take(key, now = Date.now()) {
      let window = windows.get(key);
      if (!window || now - window.startedAt >= options.windowMs) {
        if (windows.size >= maxKeys) {
          // Drop expired windows first; if none, the oldest key, so memory stays bounded under a flood.
          for (const [name, entry] of windows) if (now - entry.startedAt >= options.windowMs) windows.delete(name);
          if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
        }
        window = { startedAt: now, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      const allowed = window.count <= options.limit;
      return { allowed, retryAfterMs: allowed ? 0 : options.windowMs - (now - window.startedAt) };
    },
    peek(key, now = Date.now()) {
      const window = windows.get(key);
      if (!window || now - window.startedAt >= options.windowMs || window.count < options.limit) return { allowed: true, retryAfterMs: 0 };
      return { allowed: false, retryAfterMs: options.windowMs - (now - window.startedAt) };
    },
    reset(key) {
      windows.delete(key);
    },
  };
}
