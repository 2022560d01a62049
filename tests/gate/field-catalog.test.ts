/**
 * The field catalogue turns every name a model or a JQL query may use for a field into the id the policy
 * speaks, so no spelling is a way around an id rule; and it tells which custom fields hold other issues.
 */
import { describe, expect, it } from 'vitest';
import { FieldCatalog } from '../../src/gate/field-catalog.js';
import type { ToolContext } from '../../src/gate/tool.js';
import { RecordingJira } from '../../src/gate/recording-jira.js';
import type { JiraClient } from '../../src/jira/client.js';
import type { Field } from '../../src/jira/types.js';

const FIELDS: Field[] = [
  { id: 'summary', name: 'Summary', clauseNames: ['summary'], schema: { type: 'string' } },
  { id: 'issuetype', name: 'Issue Type', clauseNames: ['issuetype', 'type'], schema: { type: 'issuetype' } },
  { id: 'customfield_10033', name: 'Security classification', clauseNames: ['cf[10033]', 'Security classification'], schema: { type: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:select' } },
  { id: 'customfield_10034', name: 'Customer reference', clauseNames: ['cf[10034]', 'Customer reference'], schema: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textfield' } },
  { id: 'customfield_10035', name: 'Parent Link', clauseNames: ['cf[10035]', 'Parent Link'], schema: { type: 'any', custom: 'com.atlassian.jpo:jpo-custom-field-parent' } },
  { id: 'customfield_10040', name: 'Blocks', clauseNames: ['cf[10040]', 'Blocks'], schema: { type: 'array', items: 'issuelinks', custom: 'x:issue-picker' } },
  // Two fields with one name: the name is ambiguous and must resolve to nothing.
  { id: 'customfield_10050', name: 'Team', clauseNames: ['cf[10050]', 'Team'], schema: { type: 'string' } },
  { id: 'customfield_10051', name: 'Team', clauseNames: ['cf[10051]', 'Team'], schema: { type: 'string' } },
];

function catalog(): { fields: FieldCatalog; ctx: ToolContext; calls: () => number } {
  const request = { method: 'GET', path: '/rest/api/3/field', status: 200, attempts: 1 };
  const jira = new RecordingJira({ getFields: async () => ({ data: FIELDS, request }) } as unknown as JiraClient);
  const ctx = { jira } as unknown as ToolContext;
  // Every fetch goes through the call's recording client: its exchanges count them.
  return { fields: new FieldCatalog(), ctx, calls: () => jira.exchanges.length };
}

describe('FieldCatalog', () => {
  it('resolves every JQL spelling of a field to its id, case-insensitively, fetching /field once', async () => {
    const { fields, ctx, calls } = catalog();
    for (const name of ['customfield_10033', 'cf[10033]', 'CF[10033]', 'Security classification', 'security CLASSIFICATION']) {
      expect(await fields.resolveClause(name, ctx), name).toEqual(['customfield_10033']);
    }
    expect(await fields.resolveClause('type', ctx)).toEqual(['issuetype']);
    expect(calls()).toBe(1);
  });

  it('refuses (undefined) an unknown name and a name two fields share', async () => {
    const { fields, ctx } = catalog();
    expect(await fields.resolveClause('nosuchfield', ctx)).toBeUndefined();
    expect(await fields.resolveClause('Team', ctx)).toBeUndefined();
    expect(await fields.resolveClause('cf[10051]', ctx)).toEqual(['customfield_10051']);
    expect(await fields.resolve('Team', ctx)).toBeUndefined();
  });

  it('reads `text` as every text field: the system ones and the text custom fields', async () => {
    const { fields, ctx } = catalog();
    expect(await fields.resolveClause('TEXT', ctx)).toEqual(['summary', 'description', 'environment', 'comment', 'customfield_10034']);
  });

  it('knows which custom fields hold other issues, and assumes they all may before it has loaded', async () => {
    const { fields, ctx } = catalog();
    expect(fields.referencesIssues('customfield_10035')).toBe(true);
    expect(fields.referencesIssues('customfield_10033')).toBe(true);
    await fields.load(ctx);
    expect(fields.referencesIssues('customfield_10035')).toBe(true);
    expect(fields.referencesIssues('customfield_10040')).toBe(true);
    expect(fields.referencesIssues('customfield_10033')).toBe(false);
    expect(fields.referencesIssues('summary')).toBe(false);
  });
});
