/**
 * Validates Jira requests and responses against Atlassian's OpenAPI 3.0 description of Jira Cloud
 * REST v3 (../shared/jira/jira-platform-v3.openapi.json), with ajv.
 *
 * OpenAPI 3.0 is not JSON Schema: `nullable` becomes a `null` type, `$ref`s point into the spec's
 * `components.schemas`, and keywords ajv does not know (`example`, `discriminator`, `xml`) are
 * dropped. `date-time` accepts Jira's ISO 8601 basic offset (`2026-01-17T12:34:00.000+0000`),
 * which RFC 3339 (ajv-formats) rejects but every Jira Cloud response uses.
 *
 * Reusable by the client's tests: `validateRequest` checks what a client sends,
 * `validateResponse` what a server (the simulator, or a recorded real Jira) answers.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export const SPEC_PATH = path.resolve(process.cwd(), '../shared/jira/jira-platform-v3.openapi.json');

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const ROOT_ID = 'https://claw-jira.invalid/jira-platform-v3.openapi.json';
const DROPPED_KEYWORDS = new Set(['example', 'examples', 'xml', 'externalDocs', 'discriminator']);

interface MediaType {
  readonly schema?: unknown;
}

interface SpecOperation {
  readonly operationId?: string;
  readonly deprecated?: boolean;
  readonly requestBody?: { readonly required?: boolean; readonly content?: Record<string, MediaType> };
  readonly responses?: Record<string, { readonly content?: Record<string, MediaType> }>;
}

interface Spec {
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: { readonly schemas: Record<string, unknown> };
}

export interface OperationMatch {
  readonly method: string;
  /** The spec's path template, e.g. `/rest/api/3/issue/{issueIdOrKey}`. */
  readonly template: string;
  readonly operationId: string;
  readonly deprecated: boolean;
  readonly params: Readonly<Record<string, string>>;
}

export interface ValidationResult {
  readonly valid: boolean;
  /** The operation and status exist in the spec. */
  readonly documented: boolean;
  /** A schema was found and applied (false for bodiless or schemaless responses). */
  readonly checked: boolean;
  readonly operationId: string | null;
  readonly errors: readonly string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** OpenAPI 3.0 schema object -> JSON Schema (draft-07) that ajv compiles. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isRecord(node)) return node;
  if (typeof node['$ref'] === 'string') {
    const ref = node['$ref'];
    return { $ref: ref.startsWith('#') ? `${ROOT_ID}${ref}` : ref };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(key) || key.startsWith('x-') || key === 'nullable') continue;
    // `properties` maps names to schemas: names are not keywords, so transform values only.
    if (key === 'properties' && isRecord(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema)]));
      continue;
    }
    out[key] = toJsonSchema(value);
  }
  if (node['nullable'] === true) {
    if (typeof out['type'] === 'string') {
      out['type'] = [out['type'], 'null'];
      if (Array.isArray(out['enum'])) out['enum'] = [...(out['enum'] as unknown[]), null];
      return out;
    }
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/**
 * Places where Atlassian's schema contradicts its own description or examples, and real Jira
 * follows the description. Each is patched to `nullable`, so the validator accepts what Jira sends
 * (and what a client must send) without accepting anything else. Keep this list short and sourced.
 */
export const SPEC_PATCHES: readonly { readonly schema: string; readonly properties: readonly string[]; readonly reason: string }[] = [
  {
    schema: 'ChangeDetails',
    properties: ['from', 'fromString', 'to', 'toString'],
    reason: 'the spec\'s own getChangeLogs example has "from": null; Jira sends null for the empty side of a change',
  },
  {
    schema: 'User',
    properties: ['accountId'],
    reason: 'assignIssue documents {"accountId": null} to unassign, with User as its request schema',
  },
];

function applyPatches(schemas: Record<string, unknown>): Record<string, unknown> {
  const patched = structuredClone(schemas);
  for (const patch of SPEC_PATCHES) {
    const schema = patched[patch.schema];
    const properties = isRecord(schema) ? schema['properties'] : undefined;
    if (!isRecord(properties)) throw new Error(`spec patch: no schema ${patch.schema}`);
    for (const name of patch.properties) {
      const property = properties[name];
      if (!isRecord(property)) throw new Error(`spec patch: no property ${patch.schema}.${name}`);
      property['nullable'] = true;
    }
  }
  return patched;
}

const JIRA_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function collectFormats(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) node.forEach((n) => collectFormats(n, into));
  else if (isRecord(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') into.add(value);
      else collectFormats(value, into);
    }
  }
}

function formatErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).slice(0, 20).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params && Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** Loads a spec and answers questions about it. One instance per spec file (compiling is slow). */
export class OpenApiValidator {
  readonly #spec: Spec;
  readonly #ajv: Ajv;
  readonly #cache = new Map<string, ValidateFunction>();
  readonly #templates: { readonly template: string; readonly segments: readonly string[]; readonly literals: number }[];

  constructor(specPath: string = SPEC_PATH) {
    this.#spec = JSON.parse(readFileSync(specPath, 'utf8')) as Spec;
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.#ajv);
    this.#ajv.addFormat('date-time', JIRA_DATE_TIME);
    const formats = new Set<string>();
    collectFormats(this.#spec.components, formats);
    collectFormats(this.#spec.paths, formats);
    for (const format of formats) if (!this.#ajv.formats[format]) this.#ajv.addFormat(format, true);
    const schemas = Object.fromEntries(Object.entries(applyPatches(this.#spec.components.schemas)).map(([name, schema]) => [name, toJsonSchema(schema)]));
    this.#ajv.addSchema({ $id: ROOT_ID, components: { schemas } });
    this.#templates = Object.keys(this.#spec.paths)
      .map((template) => {
        const segments = template.split('/').slice(1);
        return { template, segments, literals: segments.filter((s) => !s.startsWith('{')).length };
      })
      .sort((a, b) => b.literals - a.literals);
  }

  #operation(method: string, template: string): SpecOperation | undefined {
    const item = this.#spec.paths[template];
    const op = item?.[method.toLowerCase()];
    return isRecord(op) ? (op as SpecOperation) : undefined;
  }

  /** All operations in the spec. */
  operations(): OperationMatch[] {
    const out: OperationMatch[] = [];
    for (const [template, item] of Object.entries(this.#spec.paths)) {
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (!isRecord(op)) continue;
        out.push({ method: method.toUpperCase(), template, operationId: String(op['operationId'] ?? ''), deprecated: op['deprecated'] === true, params: {} });
      }
    }
    return out;
  }

  /** The spec operation serving `method` on a concrete path (or a template); literal segments win. */
  matchOperation(method: string, pathOrUrl: string): OperationMatch | null {
    const pathname = pathOrUrl.includes('://') ? new URL(pathOrUrl).pathname : (pathOrUrl.split('?')[0] ?? '');
    const actual = pathname.split('/').slice(1);
    for (const candidate of this.#templates) {
      if (candidate.segments.length !== actual.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      candidate.segments.forEach((segment, i) => {
        const value = actual[i] as string;
        if (segment.startsWith('{')) {
          if (value === '') ok = false;
          else params[segment.slice(1, -1)] = value.startsWith('{') ? value : decodeURIComponent(value);
        } else if (segment !== value) ok = false;
      });
      if (!ok) continue;
      const op = this.#operation(method, candidate.template);
      if (!op) continue;
      return { method: method.toUpperCase(), template: candidate.template, operationId: op.operationId ?? '', deprecated: op.deprecated === true, params };
    }
    return null;
  }

  isDeprecated(method: string, pathOrUrl: string): boolean {
    return this.matchOperation(method, pathOrUrl)?.deprecated ?? false;
  }

  #compile(schema: unknown): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.#cache.get(key);
    if (!validate) {
      validate = this.#ajv.compile(toJsonSchema(schema) as object);
      this.#cache.set(key, validate);
    }
    return validate;
  }

  #check(schema: unknown, value: unknown, operationId: string): ValidationResult {
    const validate = this.#compile(schema);
    const valid = validate(value);
    return { valid, documented: true, checked: true, operationId, errors: valid ? [] : formatErrors(validate.errors) };
  }

  /** Validates a response body against the schema documented for (operation, status). */
  validateResponse(method: string, pathOrUrl: string, status: number, body: unknown): ValidationResult {
    const match = this.matchOperation(method, pathOrUrl);
    if (!match) return { valid: false, documented: false, checked: false, operationId: null, errors: [`no operation ${method} ${pathOrUrl} in the spec`] };
    const op = this.#operation(method, match.template) as SpecOperation;
    const responses = op.responses ?? {};
    const response = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default'];
    if (!response) {
      return { valid: false, documented: false, checked: false, operationId: match.operationId, errors: [`status ${status} is not documented for ${match.operationId}`] };
    }
    const media = response.content?.['application/json'] ?? Object.values(response.content ?? {})[0];
    const schema = media?.schema;
    if (!isRecord(schema) || Object.keys(schema).length === 0) {
      return { valid: true, documented: true, checked: false, operationId: match.operationId, errors: [] };
    }
    return this.#check(schema, body, match.operationId);
  }

  /** Validates a request body against the operation's documented JSON request body. */
  validateRequest(method: string, pathOrUrl: string, body: unknown): ValidationResult {
    const match = this.matchOperation(method, pathOrUrl);
    if (!match) return { valid: false, documented: false, checked: false, operationId: null, errors: [`no operation ${method} ${pathOrUrl} in the spec`] };
    const op = this.#operation(method, match.template) as SpecOperation;
    const requestBody = op.requestBody;
    if (!requestBody) {
      const valid = body === undefined;
      return { valid, documented: true, checked: false, operationId: match.operationId, errors: valid ? [] : ['the operation takes no request body'] };
    }
    if (body === undefined) {
      const valid = requestBody.required !== true;
      return { valid, documented: true, checked: false, operationId: match.operationId, errors: valid ? [] : ['a request body is required'] };
    }
    const schema = requestBody.content?.['application/json']?.schema;
    if (!isRecord(schema)) return { valid: true, documented: true, checked: false, operationId: match.operationId, errors: [] };
    return this.#check(schema, body, match.operationId);
  }

  /** Validates any value against `#/components/schemas/<name>`. */
  validateSchema(name: string, value: unknown): ValidationResult {
    if (!(name in this.#spec.components.schemas)) return { valid: false, documented: false, checked: false, operationId: null, errors: [`no schema ${name}`] };
    return this.#check({ $ref: `#/components/schemas/${name}` }, value, name);
  }
}

let shared: OpenApiValidator | undefined;

/** The validator for the shared Jira spec (created once per process). */
export function jiraSpec(): OpenApiValidator {
  shared ??= new OpenApiValidator();
  return shared;
}

export function matchOperation(method: string, pathOrUrl: string): OperationMatch | null {
  return jiraSpec().matchOperation(method, pathOrUrl);
}

export function isDeprecated(method: string, pathOrUrl: string): boolean {
  return jiraSpec().isDeprecated(method, pathOrUrl);
}

export function validateResponse(method: string, pathOrUrl: string, status: number, body: unknown): ValidationResult {
  return jiraSpec().validateResponse(method, pathOrUrl, status, body);
}

export function validateRequest(method: string, pathOrUrl: string, body: unknown): ValidationResult {
  return jiraSpec().validateRequest(method, pathOrUrl, body);
}

/** Throws with readable errors unless the response is documented and valid. */
export function assertValidResponse(method: string, pathOrUrl: string, status: number, body: unknown): void {
  const result = validateResponse(method, pathOrUrl, status, body);
  if (!result.documented || !result.valid) {
    throw new Error(`${method} ${pathOrUrl} -> ${status} does not match the Jira spec (${result.operationId ?? 'unknown operation'}):\n  ${result.errors.join('\n  ')}`);
  }
}

/** Throws with readable errors unless the request body matches the spec. */
export function assertValidRequest(method: string, pathOrUrl: string, body: unknown): void {
  const result = validateRequest(method, pathOrUrl, body);
  if (!result.documented || !result.valid) {
    throw new Error(`${method} ${pathOrUrl} request does not match the Jira spec (${result.operationId ?? 'unknown operation'}):\n  ${result.errors.join('\n  ')}`);
  }
}
