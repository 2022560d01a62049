/**
 * Hosts never forward a call to a tool they were not shown ("No such tool available"), so a description that
 * points at an unlisted tool misleads the model. Every description names only tools the same server lists
 * under the WPC and token in force; pointers between tools come and go with the listed set.
 */
import { describe, expect, it } from 'vitest';
import { type RunningSimulator } from '../../src/sim/index.js';
import { World, type Connected } from '../e2e/harness.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
useSimulator({ seed: 5 }, (started) => {
  sim = started;
});

async function described(server: Connected): Promise<Map<string, string>> {
  const { tools } = await server.client.listTools();
  return new Map(tools.map((tool) => [tool.name, tool.description ?? '']));
}

function unlistedMentions(tools: Map<string, string>): string[] {
  return [...tools].flatMap(([name, text]) => [...text.matchAll(/\bjira_[a-z_]+\b/g)].map((m) => m[0]).filter((m) => !tools.has(m)).map((m) => `${name} -> ${m}`));
}

describe('tool descriptions name only tools the same server lists', () => {
  const setups: Array<[string, string, string[]]> = [
    ['seed WPC', 'seed.json', []],
    ['dev WPC (every operation)', 'dev.json', []],
    ['dev WPC, token for search only', 'dev.json', ['--ops', 'issue.search']],
    ['dev WPC, token without project.read', 'dev.json', ['--ops', 'issue.search,issue.get,issue.create,workflow.transition']],
  ];
  for (const [name, wpc, cstArgs] of setups) {
    it(name, async () => {
      const world = await World.create({ wpc, sim, cstArgs, job: `desc-${Math.random().toString(36).slice(2, 8)}` });
      try {
        for (const kind of ['read', 'write'] as const) {
          const server = await world.connect(kind);
          const tools = await described(server);
          expect(unlistedMentions(tools), `${kind} server`).toEqual([]);
          await server.close();
        }
      } finally {
        await world.close();
      }
    });
  }

  it('a pointer to a same-server tool is shown while that tool is listed, and only then', async () => {
    const full = await World.create({ wpc: 'dev.json', sim, job: 'desc-full' });
    const narrow = await World.create({ wpc: 'dev.json', sim, job: 'desc-narrow', cstArgs: ['--ops', 'issue.search'] });
    try {
      const withGet = await described(await full.connect('read'));
      expect(withGet.get('jira_search_issues')).toContain('jira_get_issue');
      const searchOnly = await described(await narrow.connect('read'));
      expect([...searchOnly.keys()].sort()).toEqual(['jira_get_server_status', 'jira_search_issues']);
      expect(searchOnly.get('jira_search_issues')).not.toContain('jira_get_issue');
    } finally {
      await full.close();
      await narrow.close();
    }
  });
});
