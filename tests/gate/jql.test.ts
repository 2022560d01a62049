import { describe, expect, it } from 'vitest';
import { confineJql, jqlFieldReferences } from '../../src/gate/jql.js';
import { GateDenied } from '../../src/gate/denial.js';

const P = ['ENG', 'SEC'];

function code(jql: string): string | undefined {
  try {
    confineJql(jql, P);
    return undefined;
  } catch (error) {
    return error instanceof GateDenied ? error.code : 'THROWN';
  }
}

describe('confineJql', () => {
  it('wraps the clause and keeps ORDER BY outside', () => {
    expect(confineJql('status = Done ORDER BY created DESC', P).jql).toBe('(status = Done) AND project in ("ENG", "SEC") ORDER BY created DESC');
    expect(confineJql('ORDER BY key', P).jql).toBe('project in ("ENG", "SEC") ORDER BY key');
    expect(confineJql('project = HR OR project = ENG', P).jql).toBe('(project = HR OR project = ENG) AND project in ("ENG", "SEC")');
  });

  it('does not mistake ORDER BY inside a string or a word for the clause', () => {
    expect(confineJql('summary ~ "order by x" AND text ~ border', P).jql).toBe('(summary ~ "order by x" AND text ~ border) AND project in ("ENG", "SEC")');
    expect(confineJql("summary ~ 'it\\'s ) OR (project = HR'", P).orderBy).toBeUndefined();
  });

  it('refuses input that could close our parenthesis or smuggle a clause after ORDER BY', () => {
    expect(code('project = ENG) OR (project = HR')).toBe('JQL_INVALID');
    expect(code('project = HR) OR project in (HR) OR (x = y')).toBe('JQL_INVALID');
    expect(code('(project = HR')).toBe('JQL_INVALID');
    expect(code('summary ~ "unterminated')).toBe('JQL_INVALID');
    expect(code('status = Done ORDER BY created, (project = HR)')).toBe('JQL_INVALID');
    expect(code('status = Done ORDER BY created DESC OR project = HR')).toBe('JQL_INVALID');
    expect(code('status = Done ORDER BY')).toBe('JQL_INVALID');
    expect(code('status = Done\u0000')).toBe('JQL_INVALID');
    // Outside quotes Jira reads \" as a literal character, not the start of a string.
    expect(code('labels = a\\") OR project = HR OR (labels = "b\\"c"')).toBe('JQL_INVALID');
  });

  it('never confines to nothing: with no project (a policy question, refused by decide first) it throws', () => {
    expect(() => confineJql('status = Done', [])).toThrow();
    expect(() => confineJql('status = Done', P, [])).toThrow();
  });

  it('confines to the issue types too, quoted as JQL strings', () => {
    expect(confineJql('status = Done ORDER BY key', P, ['Bug', 'Sub-task']).jql).toBe(
      '(status = Done) AND project in ("ENG", "SEC") AND issuetype in ("Bug", "Sub-task") ORDER BY key',
    );
    expect(confineJql('', P, ['a "b" \\ c']).jql).toBe('project in ("ENG", "SEC") AND issuetype in ("a \\"b\\" \\\\ c")');
  });
});

describe('jqlFieldReferences', () => {
  const names = (jql: string) => jqlFieldReferences(jql).map((reference) => reference.name);

  it('finds every field in every clause, at any depth, under NOT, and in ORDER BY', () => {
    expect(names('NOT (status = Done OR (labels = x AND priority in (High, Low))) ORDER BY cf[10033] DESC, "Story point estimate"')).toEqual([
      'status',
      'labels',
      'priority',
      'cf[10033]',
      'Story point estimate',
    ]);
    expect(names('"Security classification" = Internal || customfield_10033 is EMPTY && text ~ x')).toEqual([
      'Security classification',
      'customfield_10033',
      'text',
    ]);
  });

  it('gives the literal values a field is compared with (issue types named), not functions or EMPTY', () => {
    expect(jqlFieldReferences('issuetype in (Bug, "Sub-task", standardIssueTypes()) AND type != Epic AND issuetype is not EMPTY')).toEqual([
      { name: 'issuetype', values: ['Bug', 'Sub-task'] },
      { name: 'type', values: ['Epic'] },
      { name: 'issuetype', values: [] },
    ]);
  });

  it('refuses what it cannot read (JQL_INVALID): history operators, broken syntax', () => {
    for (const jql of ['status WAS Done', 'status CHANGED', 'priority = ', '(status = Done', 'x = "open']) {
      let code: string | undefined;
      try {
        jqlFieldReferences(jql);
      } catch (error) {
        code = error instanceof GateDenied ? error.code : 'THROWN';
      }
      expect(code, jql).toBe('JQL_INVALID');
    }
  });
});
