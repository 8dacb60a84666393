import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../src/config.js';

const valid = {
  DATABASE_URL: 'postgres://herald@127.0.0.1:5432/herald',
  HERALD_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('configuration from the environment', () => {
  it('fills every optional setting with a working default', () => {
    const config = loadConfig(valid);
    expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.HERALD_MAX_BODY_BYTES).toBe(262144);
    expect(config.HERALD_ALLOW_HTTP).toBe(false);
  });

  it('names each bad variable', () => {
    try {
      loadConfig({ ...valid, HERALD_API_PORT: 'eighty', HERALD_ENCRYPTION_KEY: 'short', DATABASE_URL: undefined });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).issues.map((issue) => issue.variable).sort();
      expect(variables).toEqual(['DATABASE_URL', 'HERALD_API_PORT', 'HERALD_ENCRYPTION_KEY']);
      expect((error as ConfigError).message).toMatch(/DATABASE_URL: is required/);
    }
  });

  it('accepts extra signature profiles but refuses one that redefines a built-in name', () => {
    const profile = { extraHeaders: {}, signature: { header: 'X-Acme-Signature', signedContent: '{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } } };
    expect(loadConfig({ ...valid, HERALD_SIGNATURE_PROFILES: JSON.stringify({ acme: profile }) }).HERALD_SIGNATURE_PROFILES).toEqual({ acme: profile });
    expect(() => loadConfig({ ...valid, HERALD_SIGNATURE_PROFILES: JSON.stringify({ timestamped: profile }) })).toThrow(/HERALD_SIGNATURE_PROFILES: "timestamped" is a built-in profile and cannot be redefined/);
  });

  it('reads duration settings with a unit or as milliseconds (how test processes pass them on), and names a bad one', () => {
    expect(loadConfig(valid).HERALD_PORTAL_SESSION_TTL).toBe(8 * 3_600_000);
    expect(loadConfig({ ...valid, HERALD_PORTAL_SESSION_TTL: '30m' }).HERALD_PORTAL_SESSION_TTL).toBe(1_800_000);
    expect(loadConfig({ ...valid, HERALD_PORTAL_SESSION_TTL: '1800000' }).HERALD_PORTAL_SESSION_TTL).toBe(1_800_000);
    expect(() => loadConfig({ ...valid, HERALD_PORTAL_SESSION_TTL: 'a while' })).toThrow(/HERALD_PORTAL_SESSION_TTL: must be a duration such as 30m/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...valid, TEMPORAL_NAMESPACE: '' }).TEMPORAL_NAMESPACE).toBe('default');
  });

  it('stops the API process at start-up with a message naming the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/api/main.ts'], {
      env: { PATH: process.env.PATH, HERALD_API_PORT: '99999', DATABASE_URL: valid.DATABASE_URL },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toMatch(/HERALD_API_PORT/);
    expect(result.stderr).toMatch(/HERALD_ENCRYPTION_KEY: is required/);
  });
});
