import type { JiraClient } from '../jira/client.js';
import type { Field } from '../jira/types.js';
import type { ToolContext } from './tool.js';

const TEXTAREA = 'com.atlassian.jira.plugin.system.customfieldtypes:textarea';

/**
 * Field ids by name, from Jira's /field, fetched once per server session. The policy speaks in field ids;
 * the model may name a custom field by its display name; both reach the decision as the same id, so a name
 * is never a way around an id rule.
 */
export class FieldCatalog {
  #byId: Map<string, Field> | undefined;
  #byName: Map<string, Field | null> | undefined;

  constructor(readonly jira: JiraClient) {}

  async #load(ctx: ToolContext): Promise<void> {
    if (this.#byId) return;
    const fields = await ctx.call(this.jira.getFields());
    this.#byId = new Map(fields.map((field) => [field.id, field]));
    this.#byName = new Map();
    for (const field of fields) {
      const key = field.name.toLowerCase();
      // Two fields with one display name: the name is ambiguous, so it resolves to nothing.
      this.#byName.set(key, this.#byName.has(key) ? null : field);
    }
  }

  /** The field id for an id or a display name; undefined when Jira knows neither (or the name is ambiguous). */
  async resolve(idOrName: string, ctx: ToolContext): Promise<string | undefined> {
    await this.#load(ctx);
    if (this.#byId?.has(idOrName)) return idOrName;
    return this.#byName?.get(idOrName.toLowerCase())?.id;
  }

  /** Rich-text fields take ADF on Jira Cloud: the model's Markdown is converted for them. */
  isRichText(id: string): boolean {
    if (id === 'description' || id === 'environment') return true;
    const schema = this.#byId?.get(id)?.schema as { custom?: unknown } | undefined;
    return schema?.custom === TEXTAREA;
  }
}
