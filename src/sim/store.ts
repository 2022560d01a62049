import { canonicalJson, hashAddress, hashOfJson } from '../util/canonical.js';
import { TYPE } from './catalog.js';
import type { ChangeItem, SimIssue, SimSnapshot, SimState } from './model.js';
import { generateState, moveIssueNow } from './seed.js';
import { hasAccess, type Access } from './users.js';

/** The keys of SimState, sorted: hash() assembles exactly these (anything else falls back to the slow path). */
const HASHED_KEYS = 'counters,issues,now,seed';
const CANONICAL_CACHE_LIMIT = 2000;

/** Every applied write moves the logical clock by this much, so writes have distinct, ordered times. */
const WRITE_TICK_MS = 1000;

/** The simulator's mutable Jira state, with the indexes the handlers need. */
export class SimStore {
  #state: SimState;
  #byId = new Map<string, SimIssue>();
  #byKey = new Map<string, SimIssue>();
  readonly #now: number;
  /** Plain serialisation of an issue -> its canonical text (survives reset(): same seed, same issues). */
  #canonical = new Map<string, string>();

  constructor(seed: number, now: number) {
    this.#now = now;
    this.#state = generateState(seed, now);
    this.#reindex();
  }

  get seed(): number {
    return this.#state.seed;
  }

  get now(): number {
    return this.#state.now;
  }

  reset(seed: number = this.#state.seed): void {
    this.#state = generateState(seed, this.#now);
    this.#reindex();
  }

  #reindex(): void {
    this.#byId.clear();
    this.#byKey.clear();
    for (const issue of this.#state.issues) this.#index(issue);
  }

  #index(issue: SimIssue): void {
    this.#byId.set(issue.id, issue);
    this.#byKey.set(issue.key.toUpperCase(), issue);
    for (const former of issue.formerKeys) this.#byKey.set(former.toUpperCase(), issue);
  }

  all(): readonly SimIssue[] {
    return this.#state.issues;
  }

  /** By numeric id, current key or any former key (keys are case-insensitive, as in Jira). */
  find(idOrKey: string): SimIssue | undefined {
    return /^\d+$/.test(idOrKey) ? this.#byId.get(idOrKey) : this.#byKey.get(idOrKey.toUpperCase());
  }

  byId(id: string): SimIssue | undefined {
    return this.#byId.get(id);
  }

  can(accountId: string, issue: SimIssue, needed: Access): boolean {
    return hasAccess(accountId, issue.projectKey, needed);
  }

  subtasksOf(issue: SimIssue): SimIssue[] {
    return this.#state.issues.filter((i) => i.parentId === issue.id && i.typeId === TYPE.subtask);
  }

  childrenOf(issue: SimIssue): SimIssue[] {
    return this.#state.issues.filter((i) => i.parentId === issue.id);
  }

  /** Advances the clock for one applied write and returns the write's time. */
  tick(): number {
    this.#state.now += WRITE_TICK_MS;
    return this.#state.now;
  }

  nextIssueId(): string {
    this.#state.counters.issueId += 1;
    return String(this.#state.counters.issueId);
  }

  nextIssueNumber(projectKey: string): number {
    const next = (this.#state.counters.issueNumber[projectKey] ?? 0) + 1;
    this.#state.counters.issueNumber[projectKey] = next;
    return next;
  }

  nextCommentId(): string {
    this.#state.counters.commentId += 1;
    return String(this.#state.counters.commentId);
  }

  /** The id the next comment will get, without consuming it. */
  peekCommentId(): string {
    return String(this.#state.counters.commentId + 1);
  }

  addIssue(issue: SimIssue): void {
    this.#state.issues.push(issue);
    this.#index(issue);
  }

  /** Move an issue to another project (its old keys keep answering); undefined if it or the project is unknown. */
  moveIssue(idOrKey: string, toProject: string): SimIssue | undefined {
    const issue = this.find(idOrKey);
    if (!issue || !moveIssueNow(this.#state, issue, toProject, this.tick())) return undefined;
    this.#index(issue);
    return issue;
  }

  removeIssue(issue: SimIssue): void {
    this.#state.issues = this.#state.issues.filter((i) => i !== issue);
    this.#byId.delete(issue.id);
    for (const key of [issue.key, ...issue.formerKeys]) this.#byKey.delete(key.toUpperCase());
  }

  /** Appends a history entry (when anything changed) and marks the issue updated. */
  recordChange(issue: SimIssue, authorId: string, at: number, items: readonly ChangeItem[]): void {
    if (items.length > 0) {
      this.#state.counters.historyId += 1;
      issue.histories.push({ id: String(this.#state.counters.historyId), authorId, created: at, items: [...items] });
    }
    issue.updated = at;
  }

  snapshot(): SimSnapshot {
    return structuredClone(this.#state);
  }

  /**
   * `sha256:<hex>` of the canonical (RFC 8785) snapshot, i.e. `hashOfJson(snapshot())`.
   * Canonicalising is the slow part, so each issue's canonical text is cached by its plain
   * serialisation (identical text implies identical value, so the cache cannot hide a change), and
   * the document is assembled the way RFC 8785 lays it out: sorted keys, no spaces.
   */
  hash(): string {
    const state = this.#state;
    if (Object.keys(state).sort().join(',') !== HASHED_KEYS) return hashOfJson(state);
    const issues = state.issues.map((issue) => {
      const plain = JSON.stringify(issue);
      let canonical = this.#canonical.get(plain);
      if (canonical === undefined) {
        canonical = canonicalJson(issue);
        if (this.#canonical.size >= CANONICAL_CACHE_LIMIT) this.#canonical.clear();
        this.#canonical.set(plain, canonical);
      }
      return canonical;
    });
    const text = `{"counters":${canonicalJson(state.counters)},"issues":[${issues.join(',')}],"now":${canonicalJson(state.now)},"seed":${canonicalJson(state.seed)}}`;
    return hashAddress(text);
  }
}
