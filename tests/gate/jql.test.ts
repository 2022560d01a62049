import { describe, expect, it } from 'vitest';
import { confineJql } from '../../src/gate/jql.js';
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

  it('refuses when no project is readable', () => {
    expect(() => confineJql('status = Done', [])).toThrow(GateDenied);
  });
});
