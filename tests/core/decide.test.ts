import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, DENY_CODES, type Decision, type DecisionRequest } from '../../src/policy/decide.js';
import type { Scope } from '../../src/cst/scope.js';
import { ScopeSchema } from '../../src/cst/scope.js';
import { OPERATIONS, type Operation } from '../../src/wpc/operations.js';
import { WpcSchema, type Wpc } from '../../src/wpc/schema.js';
import { seedWpc } from './helpers/seed.js';

interface Row {
  name: string;
  policy: string;
  scope?: unknown;
  request: DecisionRequest;
  effect: 'allow' | 'deny';
  codes: string[];
  rules?: string[];
}
interface TruthTable {
  policies: Record<string, unknown>;
  rows: Row[];
}

const table = JSON.parse(
  readFileSync(resolve(process.cwd(), 'tests/core/fixtures/decision-truth-table.json'), 'utf8'),
) as TruthTable;
const policies: Record<string, Wpc> = { seed: WpcSchema.parse(seedWpc()) };
for (const [name, value] of Object.entries(table.policies)) policies[name] = WpcSchema.parse(value);

describe('decision truth table', () => {
  it('has rows for the seed and for other policies', () => {
    expect(table.rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(table.rows.map((row) => row.policy))).toEqual(new Set(['seed', ...Object.keys(table.policies)]));
    expect(new Set(table.rows.map((row) => row.name)).size).toBe(table.rows.length);
  });

  it.each(table.rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const wpc = policies[row.policy];
    if (!wpc) throw new Error(`unknown policy ${row.policy}`);
    const scope = row.scope === undefined ? undefined : ScopeSchema.parse(row.scope);
    const decision = decide(row.request, wpc, scope);
    expect(decision.effect).toBe(row.effect);
    expect(decision.reasons.map((reason) => reason.code)).toEqual(row.codes);
    if (row.rules) expect(decision.reasons.map((reason) => reason.rule)).toEqual(row.rules);
    // Reasons of a denial are all denial codes; reasons of an allow never are.
    const denyCodes = decision.reasons.filter((reason) => (DENY_CODES as readonly string[]).includes(reason.code));
    expect(denyCodes.length).toBe(row.effect === 'deny' ? decision.reasons.length : 0);
  });
});

// ---- Property tests -------------------------------------------------------------------------------------

const PROJECTS = ['ENG', 'SEC', 'OPS', 'HR'];
const FIELDS = ['summary', 'description', 'labels', 'security', 'assignee', 'duedate', 'customfield_10010'];
const TYPES = ['Bug', 'Task', 'Story'];

const subset = <T>(values: readonly T[], minLength = 0) => fc.subarray([...values], { minLength });
/** Lists as a policy author might write them: any subset, possibly with repeats. */
const list = <T>(values: readonly T[]) => fc.array(fc.constantFrom(...values), { maxLength: values.length + 2 });
/** Deny lists are short in practice; long ones would make nearly every generated request a denial. */
const shortList = <T>(values: readonly T[]) => fc.array(fc.constantFrom(...values), { maxLength: 2 });

const wpcArb: fc.Arbitrary<Wpc> = fc
  .record({
    allow: fc.record({
      projects: list(PROJECTS),
      operations: list(OPERATIONS),
      fields_write_allowlist: list(FIELDS),
      issue_types: fc.option(list(TYPES), { nil: undefined }),
      fields_read: fc.option(list(FIELDS), { nil: undefined }),
    }),
    deny: fc.record({
      projects: shortList(PROJECTS),
      operations: shortList(OPERATIONS),
      fields_write_denylist: shortList(FIELDS),
      fields_read: shortList(FIELDS),
    }),
  })
  .map(({ allow, deny }) =>
    WpcSchema.parse({
      wpc_version: 'v1',
      tool: 'jira',
      allow: Object.fromEntries(Object.entries(allow).filter(([, v]) => v !== undefined)),
      deny,
    }),
  );

const scopeArb: fc.Arbitrary<Scope | undefined> = fc.option(
  fc.record(
    {
      operations: subset(OPERATIONS, 1),
      projects: subset(PROJECTS, 1),
      fields_write: subset(FIELDS),
      issue_types: subset(TYPES),
    },
    { requiredKeys: ['operations', 'projects'] },
  ),
  { nil: undefined },
);

const requestArb: fc.Arbitrary<DecisionRequest> = fc.record(
  {
    operation: fc.constantFrom(...OPERATIONS),
    project: fc.constantFrom(...PROJECTS),
    issueType: fc.constantFrom(...TYPES),
    fieldsWrite: list(FIELDS),
    fieldsRead: list(FIELDS),
  },
  { requiredKeys: ['operation'] },
);

/** A request built from what the policy allows, so that the allow path is exercised as often as the deny path. */
const friendlyRequestArb = (wpc: Wpc): fc.Arbitrary<DecisionRequest> => {
  const pick = <T>(values: readonly T[], fallback: readonly T[]) => fc.constantFrom(...(values.length > 0 ? values : fallback));
  return fc.record(
    {
      operation: pick(wpc.allow.operations, OPERATIONS),
      project: pick(wpc.allow.projects, PROJECTS),
      issueType: pick(wpc.allow.issue_types ?? TYPES, TYPES),
      fieldsWrite: fc.subarray([...new Set(wpc.allow.fields_write_allowlist)]),
      fieldsRead: fc.subarray([...new Set(wpc.allow.fields_read ?? FIELDS)]),
    },
    { requiredKeys: ['operation', 'project', 'issueType'] },
  );
};

/** A token scope that grants at least what the request needs, plus random extras. */
const coveringScopeArb = (request: DecisionRequest): fc.Arbitrary<Scope> =>
  fc
    .record({ operations: subset(OPERATIONS), projects: subset(PROJECTS), fields: subset(FIELDS), types: fc.option(subset(TYPES), { nil: undefined }) })
    .map(({ operations, projects, fields, types }) => ({
      operations: [...new Set([request.operation, ...operations])],
      projects: [...new Set([request.project ?? 'ENG', ...projects])],
      fields_write: [...new Set([...(request.fieldsWrite ?? []), ...fields])],
      ...(types === undefined ? {} : { issue_types: [...new Set([request.issueType ?? 'Task', ...types])] }),
    }));

/** A covering scope with exactly one dimension taken away: the case where only the token makes the difference. */
const nearMissScopeArb = (request: DecisionRequest): fc.Arbitrary<Scope> =>
  fc.tuple(coveringScopeArb(request), fc.constantFrom('operation', 'project', 'field', 'type')).map(([scope, dimension]) => {
    const without = <T>(values: T[], value: T | undefined, fallback: T[]): T[] => {
      const left = values.filter((v) => v !== value);
      return left.length > 0 ? left : fallback.filter((v) => v !== value).slice(0, 1);
    };
    switch (dimension) {
      case 'operation':
        return { ...scope, operations: without(scope.operations, request.operation, [...OPERATIONS]) };
      case 'project':
        return { ...scope, projects: without(scope.projects, request.project, PROJECTS) };
      case 'field':
        return { ...scope, fields_write: (scope.fields_write ?? []).filter((f) => f !== request.fieldsWrite?.[0]) };
      default:
        return { ...scope, issue_types: without(scope.issue_types ?? [], request.issueType, TYPES) };
    }
  });

/**
 * A policy, a request and a token scope. Half the requests are drawn from the policy's own allow lists, and a
 * quarter of the scopes cover the request and another quarter miss it in one dimension, so allows and
 * token-made denials are common enough for the properties to say something.
 */
const caseArb: fc.Arbitrary<[Wpc, DecisionRequest, Scope | undefined]> = wpcArb.chain((wpc) =>
  fc.oneof(requestArb, friendlyRequestArb(wpc)).chain((request) =>
    fc.tuple(fc.constant(wpc), fc.constant(request), fc.oneof(fc.constant(undefined), scopeArb, coveringScopeArb(request), nearMissScopeArb(request))),
  ),
);

const RUNS = { numRuns: 500 };

/** Counts effects over a property's runs: a property only proves something if both outcomes occurred. */
function effectCounter() {
  const counts = { allow: 0, deny: 0 };
  return {
    see: (decision: Decision) => void counts[decision.effect]++,
    expectBoth: () => {
      expect(counts.allow, `allow decisions among ${JSON.stringify(counts)}`).toBeGreaterThan(RUNS.numRuns / 50);
      expect(counts.deny, `deny decisions among ${JSON.stringify(counts)}`).toBeGreaterThan(RUNS.numRuns / 50);
    },
  };
}

function shuffled<T>(values: readonly T[] | undefined, seed: number): T[] | undefined {
  if (values === undefined) return undefined;
  const out = [...values];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function shuffleWpc(wpc: Wpc, seed: number): Wpc {
  return {
    ...wpc,
    allow: {
      projects: shuffled(wpc.allow.projects, seed) ?? [],
      operations: shuffled(wpc.allow.operations, seed + 1) ?? [],
      fields_write_allowlist: shuffled(wpc.allow.fields_write_allowlist, seed + 2) ?? [],
      issue_types: shuffled(wpc.allow.issue_types, seed + 3),
      fields_read: shuffled(wpc.allow.fields_read, seed + 4),
    },
    deny: {
      projects: shuffled(wpc.deny.projects, seed + 5) ?? [],
      operations: shuffled(wpc.deny.operations, seed + 6) ?? [],
      fields_write_denylist: shuffled(wpc.deny.fields_write_denylist, seed + 7) ?? [],
      fields_read: shuffled(wpc.deny.fields_read, seed + 8) ?? [],
    },
  };
}

/** The explicit forbids and token refusals in a decision: what no allow may ever remove. */
const FORBID = /^(OPERATION_DENIED|PROJECT_DENIED|FIELD_WRITE_DENIED|FIELD_READ_DENIED|SCOPE_.*)$/;
const forbids = (decision: Decision) => decision.reasons.filter((reason) => FORBID.test(reason.code));

/** Add one item to one existing allow list (absent optional lists mean "unconstrained", so they are left alone). */
const addAllowArb = (wpc: Wpc): fc.Arbitrary<Wpc> =>
  fc.oneof(
    fc.constantFrom(...PROJECTS).map((p) => ({ ...wpc, allow: { ...wpc.allow, projects: [...wpc.allow.projects, p] } })),
    fc.constantFrom(...OPERATIONS).map((o) => ({ ...wpc, allow: { ...wpc.allow, operations: [...wpc.allow.operations, o] } })),
    fc.constantFrom(...FIELDS).map((f) => ({
      ...wpc,
      allow: { ...wpc.allow, fields_write_allowlist: [...wpc.allow.fields_write_allowlist, f] },
    })),
    fc.constantFrom(...TYPES).map((t) =>
      wpc.allow.issue_types === undefined ? wpc : { ...wpc, allow: { ...wpc.allow, issue_types: [...wpc.allow.issue_types, t] } },
    ),
    fc.constantFrom(...FIELDS).map((f) =>
      wpc.allow.fields_read === undefined ? wpc : { ...wpc, allow: { ...wpc.allow, fields_read: [...wpc.allow.fields_read, f] } },
    ),
  );

const addDenyArb = (wpc: Wpc): fc.Arbitrary<Wpc> =>
  fc.oneof(
    fc.constantFrom(...PROJECTS).map((p) => ({ ...wpc, deny: { ...wpc.deny, projects: [...wpc.deny.projects, p] } })),
    fc.constantFrom(...OPERATIONS).map((o) => ({ ...wpc, deny: { ...wpc.deny, operations: [...wpc.deny.operations, o] } })),
    fc.constantFrom(...FIELDS).map((f) => ({
      ...wpc,
      deny: { ...wpc.deny, fields_write_denylist: [...wpc.deny.fields_write_denylist, f] },
    })),
    fc.constantFrom(...FIELDS).map((f) => ({ ...wpc, deny: { ...wpc.deny, fields_read: [...wpc.deny.fields_read, f] } })),
  );

describe('decision properties', () => {
  it('is independent of the order of every list in the WPC, the scope and the request', () => {
    const counter = effectCounter();
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 1_000_000 }), ([wpc, request, scope], seed) => {
        const expected = decide(request, wpc, scope);
        counter.see(expected);
        const reorderedScope: Scope | undefined = scope && {
          operations: shuffled(scope.operations, seed + 9) ?? [],
          projects: shuffled(scope.projects, seed + 10) ?? [],
          ...(scope.fields_write ? { fields_write: shuffled(scope.fields_write, seed + 11) } : {}),
          ...(scope.issue_types ? { issue_types: shuffled(scope.issue_types, seed + 12) } : {}),
        };
        const reorderedRequest: DecisionRequest = {
          ...request,
          ...(request.fieldsWrite ? { fieldsWrite: shuffled(request.fieldsWrite, seed + 13) } : {}),
          ...(request.fieldsRead ? { fieldsRead: shuffled(request.fieldsRead, seed + 14) } : {}),
        };
        expect(decide(reorderedRequest, shuffleWpc(wpc, seed), reorderedScope)).toEqual(expected);
      }),
      RUNS,
    );
    counter.expectBoth();
  });

  it('deny always wins: adding to a deny list anything the request touches makes it deny', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), ([wpc, request, scope], pick) => {
        const hits: Wpc[] = [{ ...wpc, deny: { ...wpc.deny, operations: [...wpc.deny.operations, request.operation] } }];
        if (request.project !== undefined) hits.push({ ...wpc, deny: { ...wpc.deny, projects: [request.project, ...wpc.deny.projects] } });
        const written = request.fieldsWrite ?? [];
        if (written.length > 0) {
          const field = written[pick % written.length] as string;
          hits.push({ ...wpc, deny: { ...wpc.deny, fields_write_denylist: [...wpc.deny.fields_write_denylist, field] } });
        }
        const read = request.fieldsRead ?? [];
        if (read.length > 0) {
          const field = read[pick % read.length] as string;
          hits.push({ ...wpc, deny: { ...wpc.deny, fields_read: [field, ...wpc.deny.fields_read] } });
        }
        // Even with the same item in every allow list too.
        const allowEverything = (w: Wpc): Wpc => ({
          ...w,
          allow: {
            ...w.allow,
            operations: [...OPERATIONS],
            projects: [...PROJECTS],
            fields_write_allowlist: [...FIELDS],
            ...(w.allow.fields_read ? { fields_read: [...FIELDS] } : {}),
          },
        });
        for (const denied of hits) {
          expect(decide(request, denied, scope).effect).toBe('deny');
          expect(decide(request, allowEverything(denied), scope).effect).toBe('deny');
          expect(forbids(decide(request, allowEverything(denied), scope)).length).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });

  it('adding an allow never removes a deny', () => {
    const counter = effectCounter();
    fc.assert(
      fc.property(
        caseArb.chain(([wpc, request, scope]) => fc.tuple(fc.constant(wpc), addAllowArb(wpc), fc.constant(request), fc.constant(scope))),
        ([wpc, wider, request, scope]) => {
          const before = decide(request, wpc, scope);
          const after = decide(request, wider, scope);
          counter.see(before);
          expect(forbids(after)).toEqual(forbids(before));
          if (forbids(before).length > 0) expect(after.effect).toBe('deny');
        },
      ),
      RUNS,
    );
    counter.expectBoth();
  });

  it('adding a deny never adds an allow', () => {
    const counter = effectCounter();
    fc.assert(
      fc.property(
        caseArb.chain(([wpc, request, scope]) => fc.tuple(fc.constant(wpc), addDenyArb(wpc), fc.constant(request), fc.constant(scope))),
        ([wpc, narrower, request, scope]) => {
          const before = decide(request, wpc, scope);
          const after = decide(request, narrower, scope);
          counter.see(before);
          if (before.effect === 'deny') expect(after.effect).toBe('deny');
          if (after.effect === 'allow') expect(after).toEqual(before);
        },
      ),
      RUNS,
    );
    counter.expectBoth();
  });

  it('an empty policy denies every request, with or without a token scope', () => {
    const empty = WpcSchema.parse({ wpc_version: 'v1', tool: 'jira' });
    fc.assert(
      fc.property(scopeArb, requestArb, (scope, request) => {
        const decision = decide(request, empty, scope);
        expect(decision.effect).toBe('deny');
        expect(decision.reasons.map((r) => r.code)).toContain('OPERATION_NOT_ALLOWED');
      }),
      RUNS,
    );
    // Every operation, bare.
    for (const operation of OPERATIONS) expect(decide({ operation }, empty).effect).toBe('deny');
  });

  it('the effective permission is the intersection of the WPC and the token scope', () => {
    const counter = effectCounter();
    const intersect = (wpc: Wpc, scope: Scope): Wpc => ({
      ...wpc,
      allow: {
        ...wpc.allow,
        operations: wpc.allow.operations.filter((op) => scope.operations.includes(op)),
        projects: wpc.allow.projects.filter((p) => scope.projects.includes(p)),
        fields_write_allowlist: wpc.allow.fields_write_allowlist.filter(
          (f) => scope.fields_write === undefined || scope.fields_write.includes(f),
        ),
        issue_types:
          scope.issue_types === undefined
            ? wpc.allow.issue_types
            : (wpc.allow.issue_types ?? scope.issue_types).filter((t) => scope.issue_types?.includes(t)),
      },
    });
    fc.assert(
      fc.property(caseArb, ([wpc, request, scope]) => {
        const withToken = decide(request, wpc, scope);
        counter.see(withToken);
        expect(withToken.effect).toBe(decide(request, scope ? intersect(wpc, scope) : wpc).effect);
        // A token only ever narrows: allowed with the token implies allowed by the WPC alone.
        if (withToken.effect === 'allow') expect(decide(request, wpc).effect).toBe('allow');
      }),
      RUNS,
    );
    counter.expectBoth();
  });

  it('names an unresolved dimension (project, issue type) only when nothing resolved denies the call', () => {
    const counter = effectCounter();
    const UNRESOLVED = ['PROJECT_UNKNOWN', 'ISSUE_TYPE_UNKNOWN'];
    fc.assert(
      fc.property(caseArb, fc.boolean(), fc.boolean(), ([wpc, request, scope], dropProject, dropType) => {
        const partial: DecisionRequest = { ...request };
        if (dropProject) delete partial.project;
        if (dropType) delete partial.issueType;
        const decision = decide(partial, wpc, scope);
        counter.see(decision);
        const codes = decision.reasons.map((reason) => reason.code);
        const unresolved = codes.filter((code) => UNRESOLVED.includes(code));
        if (unresolved.length > 0) expect(unresolved).toEqual(codes);
        // A denial that did not depend on the missing dimension is still there once the request is complete.
        if (decision.effect === 'deny' && unresolved.length === 0) {
          const full = decide(request, wpc, scope).reasons.map((reason) => reason.code);
          for (const code of codes) expect(full).toContain(code);
        }
      }),
      RUNS,
    );
    counter.expectBoth();
  });

  it('is pure: the same inputs give the same decision and are not modified', () => {
    fc.assert(
      fc.property(caseArb, ([wpc, request, scope]) => {
        const snapshot = JSON.stringify([wpc, scope, request]);
        const first = decide(request, wpc, scope);
        expect(decide(request, wpc, scope)).toEqual(first);
        expect(JSON.stringify([wpc, scope, request])).toBe(snapshot);
      }),
      { numRuns: 200 },
    );
  });
});

it('the operation vocabulary the generators draw from is the one the schema accepts', () => {
  const sample: Operation[] = [...OPERATIONS];
  expect(WpcSchema.parse({ wpc_version: 'v1', tool: 'jira', allow: { operations: sample } }).allow.operations).toEqual(sample);
});
