/** Site metadata: fields, projects, create metadata, users, server info. */
import { FIELDS, ISSUE_TYPES, PROJECTS, createScreen, projectByIdOrKey, type ProjectDef } from '../catalog.js';
import { ok, queryInt, queryList, type SimRequest, type SimResponse } from '../http/context.js';
import { jiraError } from '../http/errors.js';
import { fieldCreateMetadata } from '../present/fieldmeta.js';
import { componentRef, issueTypeRef, projectAvatarUrls, userRef } from '../present/refs.js';
import { jiraTime } from '../time.js';
import { SIM_PEOPLE, allUsers, hasAccess, type SimPerson } from '../users.js';
import { pageBounds } from './common.js';

const PROJECT_LEADS: Record<string, string> = {
  ENG: SIM_PEOPLE[0]?.accountId ?? '',
  SEC: SIM_PEOPLE[5]?.accountId ?? '',
  OPS: SIM_PEOPLE[4]?.accountId ?? '',
  HR: SIM_PEOPLE[7]?.accountId ?? '',
};

const PROJECT_EXPAND = 'description,lead,issueTypes,url,projectKeys,permissions,insight';

function visibleProject(req: SimRequest, idOrKey: string): ProjectDef {
  const project = projectByIdOrKey(idOrKey);
  if (!project || !hasAccess(req.user.accountId, project.key, 'browse')) {
    throw jiraError(404, /^\d+$/.test(idOrKey) ? `No project could be found with id '${idOrKey}'.` : `No project could be found with key '${idOrKey}'.`);
  }
  return project;
}

function user(req: SimRequest, person: SimPerson, withEmail = false): Record<string, unknown> {
  return { ...userRef(req.baseUrl, person, withEmail), locale: 'en_US' };
}

function lead(req: SimRequest, project: ProjectDef): Record<string, unknown> | undefined {
  const person = allUsers().find((u) => u.accountId === PROJECT_LEADS[project.key]);
  return person ? user(req, person) : undefined;
}

function projectSummary(req: SimRequest, project: ProjectDef, expand: ReadonlySet<string>): Record<string, unknown> {
  const issues = req.store.all().filter((i) => i.projectKey === project.key);
  const body: Record<string, unknown> = {
    expand: PROJECT_EXPAND,
    self: `${req.baseUrl}/rest/api/3/project/${project.id}`,
    id: project.id,
    key: project.key,
    name: project.name,
    avatarUrls: projectAvatarUrls(req.baseUrl, project),
    projectCategory: { self: `${req.baseUrl}/rest/api/3/projectCategory/${project.category.id}`, id: project.category.id, name: project.category.name, description: '' },
    projectTypeKey: project.typeKey,
    simplified: false,
    style: 'classic',
    isPrivate: false,
    properties: {},
  };
  if (expand.has('description')) body['description'] = project.description;
  if (expand.has('lead')) body['lead'] = lead(req, project);
  if (expand.has('issueTypes')) body['issueTypes'] = issueTypesOf(req, project);
  if (expand.has('insight')) {
    body['insight'] = {
      totalIssueCount: issues.length,
      lastIssueUpdateTime: jiraTime(Math.max(0, ...issues.map((i) => i.updated))),
    };
  }
  return body;
}

function issueTypesOf(req: SimRequest, project: ProjectDef): Record<string, unknown>[] {
  return ISSUE_TYPES.filter((t) => project.issueTypeIds.includes(t.id)).map((t) => issueTypeRef(req.baseUrl, t));
}

export function getFields(): SimResponse {
  return ok(
    FIELDS.map((f) => ({
      id: f.id,
      key: f.id,
      name: f.name,
      custom: f.custom,
      orderable: f.orderable,
      navigable: f.navigable,
      searchable: f.searchable,
      clauseNames: [...f.clauseNames],
      ...(f.schema ? { schema: { ...f.schema } } : {}),
    })),
  );
}

const PROJECT_ORDER: Record<string, (a: ProjectDef, b: ProjectDef) => number> = {
  key: (a, b) => a.key.localeCompare(b.key),
  name: (a, b) => a.name.localeCompare(b.name),
  category: (a, b) => a.category.name.localeCompare(b.category.name),
};

export function searchProjects(req: SimRequest): SimResponse {
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 50), 100);
  const rawOrder = req.query.get('orderBy') ?? 'key';
  const descending = rawOrder.startsWith('-');
  const orderName = rawOrder.replace(/^[+-]/, '');
  const order = PROJECT_ORDER[orderName];
  if (!order) throw jiraError(400, `Invalid orderBy value '${rawOrder}'.`);
  const keys = new Set(queryList(req.query, 'keys').map((k) => k.toUpperCase()));
  const ids = new Set(queryList(req.query, 'id'));
  const text = (req.query.get('query') ?? '').toLowerCase();
  const typeKey = req.query.get('typeKey');
  const action = req.query.get('action') ?? 'view';
  const needed = action === 'edit' || action === 'create' ? 'write' : 'browse';
  const matches = PROJECTS.filter(
    (p) =>
      hasAccess(req.user.accountId, p.key, needed) &&
      (keys.size === 0 || keys.has(p.key)) &&
      (ids.size === 0 || ids.has(p.id)) &&
      (text === '' || p.key.toLowerCase().includes(text) || p.name.toLowerCase().includes(text)) &&
      (typeKey === null || typeKey.split(',').includes(p.typeKey)),
  ).sort((a, b) => (descending ? -1 : 1) * order(a, b));
  const expand = new Set(queryList(req.query, 'expand'));
  const page = matches.slice(start, start + size);
  const isLast = start + page.length >= matches.length;
  const self = `${req.baseUrl}/rest/api/3/project/search?startAt=${start}&maxResults=${size}`;
  return ok({
    self,
    ...(isLast ? {} : { nextPage: `${req.baseUrl}/rest/api/3/project/search?startAt=${start + page.length}&maxResults=${size}` }),
    maxResults: size,
    startAt: start,
    total: matches.length,
    isLast,
    values: page.map((p) => projectSummary(req, p, expand)),
  });
}

export function getProject(req: SimRequest): SimResponse {
  const project = visibleProject(req, req.params['projectIdOrKey'] ?? '');
  return ok({
    ...projectSummary(req, project, new Set(['description', 'lead', 'issueTypes'])),
    components: project.components.map((c) => ({
      ...componentRef(req.baseUrl, c),
      assigneeType: 'PROJECT_DEFAULT',
      realAssigneeType: 'PROJECT_DEFAULT',
      isAssigneeTypeValid: false,
      project: project.key,
      projectId: Number(project.id),
    })),
    assigneeType: 'UNASSIGNED',
    versions: [],
    roles: {},
  });
}

export function createMetaIssueTypes(req: SimRequest): SimResponse {
  const project = visibleProject(req, req.params['projectIdOrKey'] ?? '');
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 50), 200);
  const types = hasAccess(req.user.accountId, project.key, 'write') ? issueTypesOf(req, project) : [];
  return ok({ maxResults: size, startAt: start, total: types.length, issueTypes: types.slice(start, start + size) });
}

export function createMetaFields(req: SimRequest): SimResponse {
  const project = visibleProject(req, req.params['projectIdOrKey'] ?? '');
  const typeId = req.params['issueTypeId'] ?? '';
  if (!project.issueTypeIds.includes(typeId) || !hasAccess(req.user.accountId, project.key, 'write')) {
    throw jiraError(400, `The issue type with id '${typeId}' does not exist or is not valid for project '${project.key}'.`);
  }
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 50), 200);
  const fields = createScreen(project, typeId).map((f) => fieldCreateMetadata(req.baseUrl, project, f));
  return ok({ maxResults: size, startAt: start, total: fields.length, fields: fields.slice(start, start + size) });
}

export function getMyself(req: SimRequest): SimResponse {
  return ok({
    ...user(req, req.user, true),
    groups: { size: 1, items: [] },
    applicationRoles: { size: 1, items: [] },
    expand: 'groups,applicationRoles',
  });
}

export function getServerInfo(req: SimRequest): SimResponse {
  return ok({
    baseUrl: req.baseUrl,
    displayUrl: req.baseUrl,
    version: '1001.0.0-SNAPSHOT',
    versionNumbers: [1001, 0, 0],
    deploymentType: 'Cloud',
    buildNumber: 100_300,
    buildDate: '2026-02-20T00:00:00.000+0000',
    // The data's clock is fixed for determinism; the server's own clock is the wall clock, as on a real
    // site, so clients (claw-jira doctor) can measure their clock skew against it.
    serverTime: jiraTime(Date.now()),
    scmInfo: 'claw-jira-simulator',
    serverTitle: 'claw-jira simulator',
  });
}

function userPage(req: SimRequest, users: readonly SimPerson[]): SimResponse {
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 50), 1000);
  return ok(users.slice(start, start + size).map((u) => user(req, u)));
}

function matchesQuery(person: SimPerson, query: string): boolean {
  const q = query.toLowerCase();
  return person.displayName.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)) || person.displayName.toLowerCase().startsWith(q) || person.email.toLowerCase().startsWith(q);
}

export function findUsers(req: SimRequest): SimResponse {
  const query = req.query.get('query');
  const accountId = req.query.get('accountId');
  if (query === null && accountId === null) throw jiraError(400, "One of 'query' or 'accountId' query parameters must be provided.");
  return userPage(req, allUsers().filter((u) => (accountId === null || u.accountId === accountId) && (query === null || matchesQuery(u, query))));
}

export function findAssignableUsers(req: SimRequest): SimResponse {
  const projectParam = req.query.get('project');
  const issueRef = req.query.get('issueKey') ?? req.query.get('issueId');
  let projectKey: string;
  if (issueRef !== null) {
    const issue = req.store.find(issueRef);
    if (!issue || !req.store.can(req.user.accountId, issue, 'browse')) throw jiraError(404, 'Issue does not exist or you do not have permission to see it.');
    projectKey = issue.projectKey;
  } else if (projectParam !== null) {
    projectKey = visibleProject(req, projectParam).key;
  } else {
    throw jiraError(400, 'A project key, issue key or issue id is required.');
  }
  const query = req.query.get('query');
  const accountId = req.query.get('accountId');
  return userPage(
    req,
    allUsers().filter(
      (u) => u.active && hasAccess(u.accountId, projectKey, 'browse') && (accountId === null || u.accountId === accountId) && (query === null || query === '' || matchesQuery(u, query)),
    ),
  );
}
