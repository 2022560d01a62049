import type { Field } from '../jira/types.js';
import type { RecordingJira } from './recording-jira.js';

/** What the catalogue needs of a call: its recording client, so the one /field fetch lands in that call's receipts. */
type CallJira = { readonly jira: Pick<RecordingJira, 'getFields'> };

const TEXTAREA = 'com.atlassian.jira.plugin.system.customfieldtypes:textarea';
const TEXTFIELD = 'com.atlassian.jira.plugin.system.customfieldtypes:textfield';

/** Fields `text ~` searches besides the text custom fields (Atlassian's JQL reference for `text`). */
const TEXT_SYSTEM_FIELDS = ['summary', 'description', 'environment', 'comment'];

/** Custom field types whose value is another issue although their schema type does not say so. */
const ISSUE_REFERENCE_CUSTOM = new Set(['com.atlassian.jpo:jpo-custom-field-parent', 'com.pyxis.greenhopper.jira:gh-epic-link']);
const ISSUE_REFERENCE_TYPES = new Set(['issuelink', 'issuelinks']);

/**
 * Field ids by name, from Jira's /field, fetched once per server session. The policy speaks in field ids;
 * the model may name a custom field by its display name, and JQL by any of its clause names (`cf[10033]`,
 * `type`); all reach the decision as the same id, so a name is never a way around an id rule.
 */
export class FieldCatalog {
  #byId: Map<string, Field> | undefined;
  #byName: Map<string, Field | null> | undefined;
  #byClause: Map<string, Field | null> | undefined;

  /** Fetch the catalogue (once): needed before the synchronous questions below. */
  async load(ctx: CallJira): Promise<void> {
    if (this.#byId) return;
    const fields = await ctx.jira.getFields();
    const byName = new Map<string, Field | null>();
    const byClause = new Map<string, Field | null>();
    // Two fields answering to one name make the name ambiguous: it resolves to nothing.
    const add = (map: Map<string, Field | null>, key: string, field: Field): void => {
      const known = map.get(key);
      map.set(key, known === undefined || known?.id === field.id ? field : null);
    };
    for (const field of fields) {
      add(byName, field.name.toLowerCase(), field);
      // JQL names are case-insensitive; the id is accepted too (`customfield_10033 = x`).
      for (const clause of [field.id, ...(field.clauseNames ?? [])]) add(byClause, clause.toLowerCase(), field);
    }
    this.#byId = new Map(fields.map((field) => [field.id, field]));
    this.#byName = byName;
    this.#byClause = byClause;
  }

  /** The field id for an id or a display name; undefined when Jira knows neither (or the name is ambiguous). */
  async resolve(idOrName: string, ctx: CallJira): Promise<string | undefined> {
    await this.load(ctx);
    if (this.#byId?.has(idOrName)) return idOrName;
    return this.#byName?.get(idOrName.toLowerCase())?.id;
  }

  /**
   * The field ids a JQL field name observes: one id for a field (by id, clause name or display name), every
   * text-bearing field for `text`. Undefined when the name is unknown or ambiguous: the caller refuses.
   */
  async resolveClause(name: string, ctx: CallJira): Promise<string[] | undefined> {
    await this.load(ctx);
    const lower = name.toLowerCase();
    if (lower === 'text') return this.#textFields();
    const field = this.#byClause?.get(lower) ?? this.#byName?.get(lower);
    return field ? [field.id] : undefined;
  }

  #textFields(): string[] {
    const custom = [...(this.#byId?.values() ?? [])]
      .filter((field) => field.schema?.custom === TEXTAREA || field.schema?.custom === TEXTFIELD)
      .map((field) => field.id);
    return [...TEXT_SYSTEM_FIELDS, ...custom];
  }

  /** Rich-text fields take ADF on Jira Cloud: the model's Markdown is converted for them. */
  isRichText(id: string): boolean {
    if (id === 'description' || id === 'environment') return true;
    return this.#byId?.get(id)?.schema?.custom === TEXTAREA;
  }

  /**
   * Whether a field's value is another issue (a Parent Link, an issue picker): such values carry the other
   * issue's summary and status, from a project the policy may hide, so only its key is shown. Asked only
   * after load(); before it, every custom field is taken to reference issues (fail closed).
   */
  referencesIssues(id: string): boolean {
    const schema = this.#byId?.get(id)?.schema;
    if (!this.#byId) return id.startsWith('customfield_');
    if (!schema) return false;
    return (
      ISSUE_REFERENCE_TYPES.has(schema.type) ||
      (schema.items !== undefined && ISSUE_REFERENCE_TYPES.has(schema.items)) ||
      (schema.custom !== undefined && ISSUE_REFERENCE_CUSTOM.has(schema.custom))
    );
  }
}
