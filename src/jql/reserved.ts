/**
 * Jira's reserved JQL words (from Atlassian's JQL reference). Unquoted, they are refused as field
 * names and values. The structural keywords (AND, OR, NOT, IN, IS, ORDER, BY, EMPTY, NULL, ASC,
 * DESC) are handled by the parser itself.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set(
  `abort access add after alias all alter any as audit avg before begin between boolean break byte catch cf char
  character check checkpoint collate collation column commit connect continue count create current date decimal declare
  decrement default defaults define delete delimiter difference distinct divide do double drop else encoding end equals
  escape exclusive exec execute exists explain false fetch file field first float for from function go goto grant greater
  group having identified if immediate increment index initial inner inout input insert int integer intersect
  intersection into isempty isnull join last left less like limit lock long max min minus mode modify modulo more multiply
  next noaudit notin nowait number object of on option outer output power previous prior privileges public raise raw
  remainder rename resource return returns revoke right row rowid rownum rows select session set share size sqrt start
  strict string subtract sum synonym table then to trans transaction trigger true uid union unique update user validate
  values view when whenever where while with`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);
