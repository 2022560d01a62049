/**
 * One vocabulary of gate codes: each belongs to one stage, looked up from the table; no source raises a gate
 * code with a stage of its own choosing; event types are the exported constants review reads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT, GATE_CODE_STAGE, TOOL_TARGET_CODES } from '../../src/gate/codes.js';
import { GateDenied } from '../../src/gate/denial.js';
import { DENY_CODES } from '../../src/policy/decide.js';
import { ClawError, codeOf } from '../../src/util/errors.js';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('gate codes', () => {
  it('a literal code is never raised with a stage written beside it: GateDenied.of looks the stage up', () => {
    const offenders = sources(SRC).filter((file) => /new GateDenied\(\s*'/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
    expect(GateDenied.of('BUDGET_EXCEEDED', 'spent')).toMatchObject({ code: 'BUDGET_EXCEEDED', stage: 'budget', reasons: [{ code: 'BUDGET_EXCEEDED', rule: 'budget' }] });
  });

  it('tool codes are target codes; only INPUT_INVALID is also a gate code of another stage (schema vs resolved arguments)', () => {
    const elsewhere = TOOL_TARGET_CODES.filter((code) => code in GATE_CODE_STAGE && GATE_CODE_STAGE[code as keyof typeof GATE_CODE_STAGE] !== 'target');
    expect(elsewhere).toEqual(['INPUT_INVALID']);
    expect(GateDenied.target('FIELD_UNKNOWN', 'x').stage).toBe('target');
  });

  it('no gate code is a policy reason code: policy denials come from decide() alone', () => {
    const policy = new Set<string>(DENY_CODES);
    expect(Object.keys(GATE_CODE_STAGE).filter((code) => policy.has(code))).toEqual([]);
    expect(TOOL_TARGET_CODES.filter((code) => policy.has(code))).toEqual([]);
  });

  it('GateDenied is a ClawError; codeOf reads any coded error and falls back for the rest', () => {
    const denied = GateDenied.of('WPC_CHANGED', 'changed');
    expect(denied).toBeInstanceOf(ClawError);
    expect(codeOf(denied, 'X')).toBe('WPC_CHANGED');
    expect(codeOf(new Error('plain'), 'FALLBACK')).toBe('FALLBACK');
    expect(codeOf('a string', 'FALLBACK')).toBe('FALLBACK');
  });

  it('event types are constants, each its own string', () => {
    expect(new Set(Object.values(EVENT)).size).toBe(Object.values(EVENT).length);
  });
});
