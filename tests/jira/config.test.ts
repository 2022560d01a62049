import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadJiraConfig } from '../../src/jira/config.js';
import { Secret } from '../../src/jira/secret.js';
import { ClawError } from '../../src/util/errors.js';

const TOKEN = 'ATATT3xFfGF0-config-test-token-6a1b2c3d';
const dir = mkdtempSync(join(tmpdir(), 'claw-jira-config-'));

function refusal(env: Record<string, string>): ClawError {
  try {
    loadJiraConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ClawError);
    return error as ClawError;
  }
  throw new Error('expected loadJiraConfig to refuse');
}

function leaks(value: unknown, secret: string): boolean {
  return [String(value), JSON.stringify(value), inspect(value, { depth: 10, showHidden: true })].some((s) => s.includes(secret));
}

describe('loadJiraConfig', () => {
  it('reads a site URL with basic auth and applies defaults', () => {
    const config = loadJiraConfig({ JIRA_BASE_URL: 'https://acme.atlassian.net/', JIRA_EMAIL: 'bot@acme.com', JIRA_API_TOKEN: TOKEN });
    expect(config.baseUrl).toBe('https://acme.atlassian.net');
    expect(config.auth.kind).toBe('basic');
    expect(config.auth.kind === 'basic' && config.auth.apiToken.reveal()).toBe(TOKEN);
    expect(config.timeoutMs).toBe(15_000);
    expect(config.maxResponseBytes).toBe(10 * 1024 * 1024);
  });

  it('builds the api.atlassian.com base from JIRA_CLOUD_ID, with a bearer token', () => {
    const config = loadJiraConfig({ JIRA_CLOUD_ID: '11223344-aaaa-bbbb-cccc-556677889900', JIRA_BEARER_TOKEN: TOKEN });
    expect(config.baseUrl).toBe('https://api.atlassian.com/ex/jira/11223344-aaaa-bbbb-cccc-556677889900');
    expect(config.auth.kind).toBe('bearer');
  });

  it('reads secrets from _FILE and trims the trailing newline', () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    const config = loadJiraConfig({ JIRA_BASE_URL: 'http://127.0.0.1:9', JIRA_BEARER_TOKEN_FILE: file });
    expect(config.auth.kind === 'bearer' && config.auth.token.reveal()).toBe(TOKEN);
    const crlf = join(dir, 'token-crlf');
    writeFileSync(crlf, `${TOKEN}\r\n`);
    const basic = loadJiraConfig({ JIRA_BASE_URL: 'http://localhost:9', JIRA_EMAIL: 'a@b.c', JIRA_API_TOKEN_FILE: crlf });
    expect(basic.auth.kind === 'basic' && basic.auth.apiToken.reveal()).toBe(TOKEN);
  });

  it('refuses a value and its _FILE together, naming the variable', () => {
    const file = join(dir, 'both');
    writeFileSync(file, TOKEN);
    const error = refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_BEARER_TOKEN: TOKEN, JIRA_BEARER_TOKEN_FILE: file });
    expect(error.code).toBe('JIRA_CONFIG_INVALID');
    expect(error.message).toContain('JIRA_BEARER_TOKEN_FILE');
    expect(leaks(error, TOKEN)).toBe(false);
  });

  it('refuses an unreadable _FILE with a stable code, naming the variable but not the path', () => {
    const path = join(dir, 'does-not-exist-7f3a');
    const error = refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_EMAIL: 'a@b.c', JIRA_API_TOKEN_FILE: path });
    expect(error.code).toBe('JIRA_CONFIG_INVALID');
    expect(error.details).toEqual({ variable: 'JIRA_API_TOKEN_FILE' });
    expect(leaks(error, 'does-not-exist-7f3a')).toBe(false);
  });

  it('refuses plain http except on loopback', () => {
    expect(refusal({ JIRA_BASE_URL: 'http://acme.atlassian.net', JIRA_BEARER_TOKEN: TOKEN }).code).toBe('JIRA_CONFIG_INVALID');
    expect(refusal({ JIRA_BASE_URL: 'http://10.0.0.1', JIRA_BEARER_TOKEN: TOKEN }).code).toBe('JIRA_CONFIG_INVALID');
    expect(refusal({ JIRA_BASE_URL: 'ftp://acme.atlassian.net', JIRA_BEARER_TOKEN: TOKEN }).code).toBe('JIRA_CONFIG_INVALID');
    for (const ok of ['http://127.0.0.1:8080', 'http://localhost:1', 'http://[::1]:2']) {
      expect(loadJiraConfig({ JIRA_BASE_URL: ok, JIRA_BEARER_TOKEN: TOKEN }).baseUrl).toBe(ok);
    }
  });

  it('refuses URLs with credentials without echoing them', () => {
    const error = refusal({ JIRA_BASE_URL: `https://bot:${TOKEN}@acme.atlassian.net`, JIRA_BEARER_TOKEN: 'x-token' });
    expect(error.message).toContain('JIRA_BASE_URL');
    expect(leaks(error, TOKEN)).toBe(false);
  });

  it('refuses ambiguous or incomplete setups', () => {
    expect(refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_CLOUD_ID: 'abc', JIRA_BEARER_TOKEN: TOKEN }).message).toContain('JIRA_CLOUD_ID');
    expect(refusal({ JIRA_BEARER_TOKEN: TOKEN }).message).toContain('JIRA_BASE_URL');
    expect(refusal({ JIRA_BASE_URL: 'https://a.atlassian.net' }).message).toContain('JIRA_API_TOKEN');
    expect(refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_API_TOKEN: TOKEN }).message).toContain('JIRA_EMAIL');
    expect(refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_EMAIL: 'a@b.c', JIRA_API_TOKEN: TOKEN, JIRA_BEARER_TOKEN: 'y' }).code).toBe('JIRA_CONFIG_INVALID');
    expect(refusal({ JIRA_CLOUD_ID: '../evil', JIRA_BEARER_TOKEN: TOKEN }).message).toContain('JIRA_CLOUD_ID');
  });

  it('validates the numeric limits', () => {
    const base = { JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_BEARER_TOKEN: TOKEN };
    expect(loadJiraConfig({ ...base, JIRA_TIMEOUT_MS: '2500', JIRA_MAX_RESPONSE_BYTES: '4096' })).toMatchObject({ timeoutMs: 2500, maxResponseBytes: 4096 });
    expect(refusal({ ...base, JIRA_TIMEOUT_MS: '-1' }).message).toContain('JIRA_TIMEOUT_MS');
    expect(refusal({ ...base, JIRA_TIMEOUT_MS: '0' }).message).toContain('JIRA_TIMEOUT_MS');
    expect(refusal({ ...base, JIRA_MAX_RESPONSE_BYTES: '1e9' }).message).toContain('JIRA_MAX_RESPONSE_BYTES');
  });

  it('refuses a token that would break the header, without quoting it', () => {
    const file = join(dir, 'two-lines');
    writeFileSync(file, `${TOKEN}\nsecond-line-${TOKEN}\n`);
    const error = refusal({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_BEARER_TOKEN_FILE: file });
    expect(error.message).toContain('JIRA_BEARER_TOKEN_FILE');
    expect(leaks(error, TOKEN)).toBe(false);
  });

  it('never shows the secret when the config is printed', () => {
    const config = loadJiraConfig({ JIRA_BASE_URL: 'https://a.atlassian.net', JIRA_EMAIL: 'a@b.c', JIRA_API_TOKEN: TOKEN });
    expect(leaks(config, TOKEN)).toBe(false);
    expect(JSON.stringify(config)).toContain('[redacted]');
    expect(`${new Secret(TOKEN)}`).toBe('[redacted]');
    expect(inspect({ nested: { s: new Secret(TOKEN) } }, { depth: 5 })).not.toContain(TOKEN);
  });
});
