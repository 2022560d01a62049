/** The small reference objects Jira nests in its bodies (users, projects, statuses, ...). */
import type { ComponentDef, IssueTypeDef, NamedDef, ProjectDef, StatusCategoryDef, StatusDef } from '../catalog.js';
import { userById, type SimPerson } from '../users.js';

function initials(name: string): string {
  return name
    .split(/\s+/)
    .map((w) => w[0] ?? '')
    .join('')
    .slice(0, 2)
    .toUpperCase();
}

export function userAvatarUrls(displayName: string): Record<string, string> {
  const base = `https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/${initials(displayName)}-5.png`;
  return {
    '48x48': `${base}?size=48&s=48`,
    '24x24': `${base}?size=24&s=24`,
    '16x16': `${base}?size=16&s=16`,
    '32x32': `${base}?size=32&s=32`,
  };
}

export interface UserRef {
  self: string;
  accountId: string;
  avatarUrls: Record<string, string>;
  displayName: string;
  active: boolean;
  timeZone: string;
  accountType: string;
  emailAddress?: string;
}

export function userRef(base: string, person: SimPerson, withEmail = false): UserRef {
  return {
    self: `${base}/rest/api/3/user?accountId=${encodeURIComponent(person.accountId)}`,
    accountId: person.accountId,
    ...(withEmail ? { emailAddress: person.email } : {}),
    avatarUrls: userAvatarUrls(person.displayName),
    displayName: person.displayName,
    active: person.active,
    timeZone: person.timeZone,
    accountType: 'atlassian',
  };
}

export function userRefById(base: string, accountId: string | null): UserRef | null {
  if (accountId === null) return null;
  const person = userById(accountId);
  if (!person) return null;
  return userRef(base, person);
}

export function projectAvatarUrls(base: string, project: ProjectDef): Record<string, string> {
  const url = (size: string): string => `${base}/rest/api/3/universal_avatar/view/type/project/avatar/${project.id}?size=${size}`;
  return { '48x48': url('large'), '24x24': url('small'), '16x16': url('xsmall'), '32x32': url('medium') };
}

export function projectRef(base: string, project: ProjectDef): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/project/${project.id}`,
    id: project.id,
    key: project.key,
    name: project.name,
    projectTypeKey: project.typeKey,
    simplified: false,
    avatarUrls: projectAvatarUrls(base, project),
  };
}

export function statusCategoryRef(base: string, category: StatusCategoryDef): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/statuscategory/${category.id}`,
    id: category.id,
    key: category.key,
    colorName: category.colorName,
    name: category.name,
  };
}

export function statusRef(base: string, status: StatusDef): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/status/${status.id}`,
    description: status.description,
    iconUrl: `${base}/images/icons/statuses/generic.png`,
    name: status.name,
    id: status.id,
    statusCategory: statusCategoryRef(base, status.category),
  };
}

export function issueTypeRef(base: string, type: IssueTypeDef): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/issuetype/${type.id}`,
    id: type.id,
    description: type.description,
    iconUrl: `${base}/images/icons/issuetypes/${type.icon}.svg`,
    name: type.name,
    subtask: type.subtask,
    hierarchyLevel: type.hierarchyLevel,
  };
}

export function priorityRef(base: string, priority: NamedDef): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/priority/${priority.id}`,
    iconUrl: `${base}/images/icons/priorities/${priority.name.toLowerCase()}.svg`,
    name: priority.name,
    id: priority.id,
  };
}

export function resolutionRef(base: string, resolution: NamedDef): Record<string, unknown> {
  return { self: `${base}/rest/api/3/resolution/${resolution.id}`, id: resolution.id, description: resolution.description, name: resolution.name };
}

export function componentRef(base: string, component: ComponentDef): Record<string, unknown> {
  return { self: `${base}/rest/api/3/component/${component.id}`, id: component.id, name: component.name, description: component.description };
}

export function optionRef(base: string, option: { id: string; value: string }): Record<string, unknown> {
  return { self: `${base}/rest/api/3/customFieldOption/${option.id}`, value: option.value, id: option.id };
}
