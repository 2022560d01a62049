/** A JQL refusal; `messages` are Jira's `errorMessages` (a query can fail on several clauses at once). */
export class JqlError extends Error {
  readonly messages: readonly string[];

  constructor(messages: string | readonly string[]) {
    const list = typeof messages === 'string' ? [messages] : messages;
    super(list.join(' '));
    this.name = 'JqlError';
    this.messages = list;
  }
}

/** `(line L, character C)` of a 0-based offset, as Jira reports parse errors. */
export function position(source: string, offset: number): string {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const lastBreak = before.lastIndexOf('\n');
  return `(line ${line}, character ${offset - lastBreak})`;
}

export function syntaxError(message: string): JqlError {
  return new JqlError(`Error in the JQL Query: ${message}`);
}
