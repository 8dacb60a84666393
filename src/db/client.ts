import postgres from 'postgres';

export type Sql = postgres.Sql<{}>;

export function connectDatabase(url: string, options: { max?: number; onnotice?: () => void } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: options.onnotice ?? (() => {}),
    // Timestamps stay Date objects; bigints that fit become numbers.
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
    connect_timeout: 10,
  }) as Sql;
}
