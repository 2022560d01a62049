/**
 * The simulated site's configuration: statuses, workflows, issue types, fields and screens. Static
 * (not seeded): tests and the client rely on these ids as they would on a real site's config.
 */

export interface StatusCategoryDef {
  readonly id: number;
  readonly key: 'new' | 'indeterminate' | 'done';
  readonly colorName: string;
  readonly name: string;
}

export const STATUS_CATEGORIES = {
  new: { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' },
  indeterminate: { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' },
  done: { id: 3, key: 'done', colorName: 'green', name: 'Done' },
} as const satisfies Record<string, StatusCategoryDef>;

export interface StatusDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly category: StatusCategoryDef;
}

export const STATUSES: readonly StatusDef[] = [
  { id: '10000', name: 'To Do', description: 'Work that has not been started.', category: STATUS_CATEGORIES.new },
  {
    id: '3',
    name: 'In Progress',
    description: 'This issue is being actively worked on at the moment by the assignee.',
    category: STATUS_CATEGORIES.indeterminate,
  },
  { id: '10001', name: 'In Review', description: 'Waiting for a reviewer.', category: STATUS_CATEGORIES.indeterminate },
  { id: '10002', name: 'Done', description: 'Work that is complete.', category: STATUS_CATEGORIES.done },
];

export const STATUS = { todo: '10000', inProgress: '3', inReview: '10001', done: '10002' } as const;

export interface IssueTypeDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly subtask: boolean;
  readonly hierarchyLevel: number;
  readonly icon: string;
}

export const ISSUE_TYPES: readonly IssueTypeDef[] = [
  { id: '10000', name: 'Epic', description: 'A big user story that needs to be broken down.', subtask: false, hierarchyLevel: 1, icon: 'epic' },
  { id: '10001', name: 'Task', description: 'A small, distinct piece of work.', subtask: false, hierarchyLevel: 0, icon: 'task' },
  { id: '10002', name: 'Sub-task', description: 'A small piece of work that is part of a larger task.', subtask: true, hierarchyLevel: -1, icon: 'subtask' },
  { id: '10003', name: 'Story', description: "Functionality or a feature expressed as a user goal.", subtask: false, hierarchyLevel: 0, icon: 'story' },
  { id: '10004', name: 'Bug', description: 'A problem or error.', subtask: false, hierarchyLevel: 0, icon: 'bug' },
];

export const TYPE = { epic: '10000', task: '10001', subtask: '10002', story: '10003', bug: '10004' } as const;

export interface NamedDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

export const PRIORITIES: readonly NamedDef[] = [
  { id: '1', name: 'Highest', description: 'This problem will block progress.' },
  { id: '2', name: 'High', description: 'Serious problem that could block progress.' },
  { id: '3', name: 'Medium', description: 'Has the potential to affect progress.' },
  { id: '4', name: 'Low', description: 'Minor problem or easily worked around.' },
  { id: '5', name: 'Lowest', description: 'Trivial problem with little or no impact on progress.' },
];

export const RESOLUTIONS: readonly NamedDef[] = [
  { id: '10000', name: 'Done', description: 'Work has been completed on this issue.' },
  { id: '10001', name: "Won't Do", description: 'This issue won\'t be actioned.' },
  { id: '10002', name: 'Duplicate', description: 'The problem is a duplicate of an existing issue.' },
  { id: '10003', name: 'Cannot Reproduce', description: 'This issue could not be reproduced.' },
];

export interface TransitionDef {
  readonly id: string;
  readonly name: string;
  readonly from: readonly string[];
  readonly to: string;
  /** Transitions with a screen accept the fields listed by `transitionScreen`. */
  readonly hasScreen: boolean;
}

export interface WorkflowDef {
  readonly name: string;
  readonly statuses: readonly string[];
  readonly transitions: readonly TransitionDef[];
}

export const WORKFLOWS = {
  software: {
    name: 'Software Simplified Workflow',
    statuses: [STATUS.todo, STATUS.inProgress, STATUS.inReview, STATUS.done],
    transitions: [
      { id: '11', name: 'Start progress', from: [STATUS.todo], to: STATUS.inProgress, hasScreen: false },
      { id: '21', name: 'Submit for review', from: [STATUS.inProgress], to: STATUS.inReview, hasScreen: false },
      { id: '31', name: 'Done', from: [STATUS.todo, STATUS.inProgress, STATUS.inReview], to: STATUS.done, hasScreen: true },
      { id: '41', name: 'Request changes', from: [STATUS.inReview], to: STATUS.inProgress, hasScreen: false },
      { id: '51', name: 'Stop progress', from: [STATUS.inProgress], to: STATUS.todo, hasScreen: false },
      { id: '61', name: 'Reopen', from: [STATUS.done], to: STATUS.todo, hasScreen: false },
    ],
  },
  business: {
    name: 'Business Workflow',
    statuses: [STATUS.todo, STATUS.inProgress, STATUS.done],
    transitions: [
      { id: '11', name: 'Start progress', from: [STATUS.todo], to: STATUS.inProgress, hasScreen: false },
      { id: '31', name: 'Done', from: [STATUS.todo, STATUS.inProgress], to: STATUS.done, hasScreen: true },
      { id: '51', name: 'Stop progress', from: [STATUS.inProgress], to: STATUS.todo, hasScreen: false },
      { id: '61', name: 'Reopen', from: [STATUS.done], to: STATUS.todo, hasScreen: false },
    ],
  },
} as const satisfies Record<string, WorkflowDef>;

export type WorkflowName = keyof typeof WORKFLOWS;

export interface ComponentDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

export interface ProjectDef {
  readonly id: string;
  readonly key: string;
  readonly name: string;
  readonly description: string;
  readonly typeKey: 'software' | 'business';
  readonly workflow: WorkflowName;
  readonly issueTypeIds: readonly string[];
  readonly components: readonly ComponentDef[];
  /** Issues generated by the seed (numbers 1..n). */
  readonly seedIssueCount: number;
  readonly category: { readonly id: string; readonly name: string };
}

const ALL_TYPES = [TYPE.epic, TYPE.task, TYPE.subtask, TYPE.story, TYPE.bug];

export const PROJECTS: readonly ProjectDef[] = [
  {
    id: '10000',
    key: 'ENG',
    name: 'Engineering',
    description: 'Product engineering: services, web app and public API.',
    typeKey: 'software',
    workflow: 'software',
    issueTypeIds: ALL_TYPES,
    components: [
      { id: '10000', name: 'Backend', description: 'Services and workers.' },
      { id: '10001', name: 'Frontend', description: 'Web application.' },
      { id: '10002', name: 'API', description: 'Public REST API.' },
      { id: '10003', name: 'Infrastructure', description: 'Build, CI and deployment.' },
    ],
    seedIssueCount: 120,
    category: { id: '10000', name: 'Product' },
  },
  {
    id: '10001',
    key: 'SEC',
    name: 'Security',
    description: 'Security engineering, vulnerability management and compliance.',
    typeKey: 'software',
    workflow: 'software',
    issueTypeIds: ALL_TYPES,
    components: [
      { id: '10010', name: 'AppSec', description: 'Application security.' },
      { id: '10011', name: 'IAM', description: 'Identity and access management.' },
      { id: '10012', name: 'Compliance', description: 'SOC 2, ISO 27001 and audits.' },
      { id: '10013', name: 'Incident Response', description: 'Security incidents.' },
    ],
    seedIssueCount: 60,
    category: { id: '10001', name: 'Restricted' },
  },
  {
    id: '10002',
    key: 'OPS',
    name: 'Operations',
    description: 'Site reliability, on-call and infrastructure operations.',
    typeKey: 'software',
    workflow: 'software',
    issueTypeIds: ALL_TYPES,
    components: [
      { id: '10020', name: 'Monitoring', description: 'Alerts and dashboards.' },
      { id: '10021', name: 'Networking', description: 'DNS, load balancers and TLS.' },
      { id: '10022', name: 'Databases', description: 'PostgreSQL and Redis.' },
      { id: '10023', name: 'On-call', description: 'Rotations and runbooks.' },
    ],
    seedIssueCount: 80,
    category: { id: '10000', name: 'Product' },
  },
  {
    id: '10003',
    key: 'HR',
    name: 'People Operations',
    description: 'Hiring, onboarding, payroll and policies.',
    typeKey: 'business',
    workflow: 'business',
    issueTypeIds: [TYPE.epic, TYPE.task, TYPE.subtask],
    components: [
      { id: '10030', name: 'Onboarding', description: 'New joiners.' },
      { id: '10031', name: 'Payroll', description: 'Salaries and expenses.' },
      { id: '10032', name: 'Recruiting', description: 'Open roles and interviews.' },
    ],
    seedIssueCount: 40,
    category: { id: '10001', name: 'Restricted' },
  },
];

/** `issue`: a reference to another issue, like Advanced Roadmaps' Parent Link. */
export type CustomKind = 'number' | 'textarea' | 'select' | 'text' | 'issue';

export interface CustomFieldDef {
  readonly id: string;
  readonly numericId: number;
  readonly name: string;
  readonly kind: CustomKind;
  readonly options?: readonly { readonly id: string; readonly value: string }[];
}

const CUSTOM_TYPE_KEY: Record<CustomKind, string> = {
  number: 'com.atlassian.jira.plugin.system.customfieldtypes:float',
  textarea: 'com.atlassian.jira.plugin.system.customfieldtypes:textarea',
  select: 'com.atlassian.jira.plugin.system.customfieldtypes:select',
  text: 'com.atlassian.jira.plugin.system.customfieldtypes:textfield',
  issue: 'com.atlassian.jpo:jpo-custom-field-parent',
};

export const CUSTOM_FIELDS: readonly CustomFieldDef[] = [
  { id: 'customfield_10016', numericId: 10016, name: 'Story point estimate', kind: 'number' },
  { id: 'customfield_10030', numericId: 10030, name: 'Acceptance criteria', kind: 'textarea' },
  { id: 'customfield_10031', numericId: 10031, name: 'Root cause', kind: 'textarea' },
  {
    id: 'customfield_10032',
    numericId: 10032,
    name: 'Environment tier',
    kind: 'select',
    options: [
      { id: '10100', value: 'Production' },
      { id: '10101', value: 'Staging' },
      { id: '10102', value: 'Development' },
    ],
  },
  {
    id: 'customfield_10033',
    numericId: 10033,
    name: 'Security classification',
    kind: 'select',
    options: [
      { id: '10110', value: 'Public' },
      { id: '10111', value: 'Internal' },
      { id: '10112', value: 'Confidential' },
      { id: '10113', value: 'Restricted' },
    ],
  },
  { id: 'customfield_10034', numericId: 10034, name: 'Customer reference', kind: 'text' },
  { id: 'customfield_10035', numericId: 10035, name: 'Parent Link', kind: 'issue' },
];

export const CF = {
  storyPoints: 'customfield_10016',
  acceptance: 'customfield_10030',
  rootCause: 'customfield_10031',
  environment: 'customfield_10032',
  classification: 'customfield_10033',
  customerRef: 'customfield_10034',
  parentLink: 'customfield_10035',
} as const;

/** JsonTypeBean of a field, as `GET /field` and `expand=schema` report it. */
export interface FieldSchema {
  readonly type: string;
  readonly items?: string;
  readonly system?: string;
  readonly custom?: string;
  readonly customId?: number;
}

export interface FieldDef {
  readonly id: string;
  readonly name: string;
  readonly custom: boolean;
  readonly navigable: boolean;
  readonly orderable: boolean;
  readonly searchable: boolean;
  readonly clauseNames: readonly string[];
  readonly schema?: FieldSchema;
}

function system(
  id: string,
  name: string,
  schema: Omit<FieldSchema, 'system'> | undefined,
  flags: { navigable?: boolean; orderable?: boolean; searchable?: boolean; clauseNames?: readonly string[] } = {},
): FieldDef {
  return {
    id,
    name,
    custom: false,
    navigable: flags.navigable ?? true,
    orderable: flags.orderable ?? true,
    searchable: flags.searchable ?? true,
    clauseNames: flags.clauseNames ?? [id],
    ...(schema ? { schema: { ...schema, system: id } } : {}),
  };
}

const SYSTEM_FIELDS: readonly FieldDef[] = [
  system('issuekey', 'Key', undefined, { orderable: false, clauseNames: ['id', 'issue', 'issuekey', 'key'] }),
  system('summary', 'Summary', { type: 'string' }),
  system('description', 'Description', { type: 'string' }),
  system('issuetype', 'Issue Type', { type: 'issuetype' }, { clauseNames: ['issuetype', 'type'] }),
  system('project', 'Project', { type: 'project' }),
  system('status', 'Status', { type: 'status' }, { orderable: false }),
  system('statusCategory', 'Status Category', { type: 'statusCategory' }, { orderable: false }),
  system('priority', 'Priority', { type: 'priority' }),
  system('resolution', 'Resolution', { type: 'resolution' }),
  system('resolutiondate', 'Resolved', { type: 'datetime' }, { orderable: false, clauseNames: ['resolutiondate', 'resolved'] }),
  system('labels', 'Labels', { type: 'array', items: 'string' }),
  system('components', 'Components', { type: 'array', items: 'component' }, { clauseNames: ['component'] }),
  system('assignee', 'Assignee', { type: 'user' }),
  system('reporter', 'Reporter', { type: 'user' }),
  system('creator', 'Creator', { type: 'user' }, { orderable: false }),
  system('created', 'Created', { type: 'datetime' }, { orderable: false, clauseNames: ['created', 'createdDate'] }),
  system('updated', 'Updated', { type: 'datetime' }, { orderable: false, clauseNames: ['updated', 'updatedDate'] }),
  system('statuscategorychangedate', 'Status Category Changed', { type: 'datetime' }, { orderable: false, clauseNames: ['statusCategoryChangedDate'] }),
  system('duedate', 'Due date', { type: 'date' }, { clauseNames: ['due', 'duedate'] }),
  system('parent', 'Parent', { type: 'issuelink' }),
  system('subtasks', 'Sub-tasks', { type: 'array', items: 'issuelinks' }, { orderable: false, clauseNames: ['subtasks'] }),
  system('issuelinks', 'Linked Issues', { type: 'array', items: 'issuelinks' }, { clauseNames: ['issueLink'] }),
  system('comment', 'Comment', { type: 'comments-page' }, { navigable: false, clauseNames: ['comment'] }),
];

export const FIELDS: readonly FieldDef[] = [
  ...SYSTEM_FIELDS,
  ...CUSTOM_FIELDS.map(
    (cf): FieldDef => ({
      id: cf.id,
      name: cf.name,
      custom: true,
      navigable: true,
      orderable: true,
      searchable: true,
      clauseNames: [`cf[${cf.numericId}]`, cf.name],
      schema: {
        // Jira reports a Parent Link as `any`: only its custom type key says it holds an issue.
        type: cf.kind === 'number' ? 'number' : cf.kind === 'select' ? 'option' : cf.kind === 'issue' ? 'any' : 'string',
        custom: CUSTOM_TYPE_KEY[cf.kind],
        customId: cf.numericId,
      },
    }),
  ),
];

export const FIELD_BY_ID: ReadonlyMap<string, FieldDef> = new Map(FIELDS.map((f) => [f.id, f]));
export const CUSTOM_BY_ID: ReadonlyMap<string, CustomFieldDef> = new Map(CUSTOM_FIELDS.map((f) => [f.id, f]));

/** Fields present on every issue (in this order); `*all` selects these. */
export const ISSUE_FIELD_IDS: readonly string[] = FIELDS.filter((f) => f.id !== 'issuekey').map((f) => f.id);
export const NAVIGABLE_FIELD_IDS: readonly string[] = FIELDS.filter((f) => f.id !== 'issuekey' && f.navigable).map(
  (f) => f.id,
);

export interface ScreenField {
  readonly fieldId: string;
  readonly required: boolean;
}

/** Fields on the create screen of (project, issue type). The edit screen is this minus project/issuetype. */
export function createScreen(project: ProjectDef, typeId: string): readonly ScreenField[] {
  const fields: ScreenField[] = [
    { fieldId: 'project', required: true },
    { fieldId: 'issuetype', required: true },
    { fieldId: 'summary', required: true },
    { fieldId: 'description', required: false },
    { fieldId: 'reporter', required: false },
    { fieldId: 'assignee', required: false },
    { fieldId: 'priority', required: false },
    { fieldId: 'labels', required: false },
    { fieldId: 'components', required: false },
    { fieldId: 'duedate', required: false },
  ];
  if (typeId === TYPE.subtask) fields.push({ fieldId: 'parent', required: true });
  else if (typeId !== TYPE.epic) fields.push({ fieldId: 'parent', required: false });
  if (project.typeKey === 'software') {
    if (typeId === TYPE.story) {
      fields.push({ fieldId: CF.storyPoints, required: false }, { fieldId: CF.acceptance, required: false }, { fieldId: CF.parentLink, required: false });
    }
    if (typeId === TYPE.task) fields.push({ fieldId: CF.storyPoints, required: false });
    if (typeId === TYPE.bug) {
      fields.push({ fieldId: CF.rootCause, required: false }, { fieldId: CF.environment, required: false });
      if (project.key !== 'SEC') fields.push({ fieldId: CF.customerRef, required: false });
    }
  }
  if (project.key === 'SEC') {
    const required = typeId === TYPE.bug || typeId === TYPE.task || typeId === TYPE.story;
    fields.push({ fieldId: CF.classification, required });
  }
  return fields;
}

export function editScreen(project: ProjectDef, typeId: string): readonly ScreenField[] {
  return createScreen(project, typeId).filter((f) => f.fieldId !== 'project' && f.fieldId !== 'issuetype');
}

/** Fields on the screen of a transition (only transitions with `hasScreen`). */
export function transitionScreen(project: ProjectDef, typeId: string): readonly ScreenField[] {
  const fields: ScreenField[] = [{ fieldId: 'resolution', required: true }];
  if (createScreen(project, typeId).some((f) => f.fieldId === CF.rootCause)) {
    fields.push({ fieldId: CF.rootCause, required: false });
  }
  return fields;
}

export const STATUS_BY_ID: ReadonlyMap<string, StatusDef> = new Map(STATUSES.map((s) => [s.id, s]));
export const TYPE_BY_ID: ReadonlyMap<string, IssueTypeDef> = new Map(ISSUE_TYPES.map((t) => [t.id, t]));
export const PRIORITY_BY_ID: ReadonlyMap<string, NamedDef> = new Map(PRIORITIES.map((p) => [p.id, p]));
export const RESOLUTION_BY_ID: ReadonlyMap<string, NamedDef> = new Map(RESOLUTIONS.map((r) => [r.id, r]));
export const PROJECT_BY_KEY: ReadonlyMap<string, ProjectDef> = new Map(PROJECTS.map((p) => [p.key, p]));
export const PROJECT_BY_ID: ReadonlyMap<string, ProjectDef> = new Map(PROJECTS.map((p) => [p.id, p]));

export function projectByIdOrKey(idOrKey: string): ProjectDef | undefined {
  return PROJECT_BY_ID.get(idOrKey) ?? PROJECT_BY_KEY.get(idOrKey.toUpperCase());
}

export function componentOf(project: ProjectDef, idOrName: { id?: string; name?: string }): ComponentDef | undefined {
  return project.components.find((c) =>
    idOrName.id !== undefined ? c.id === idOrName.id : c.name.toLowerCase() === idOrName.name?.toLowerCase(),
  );
}

/** Lookup by id, else by case-insensitive name. */
export function findNamed<T extends { readonly id: string; readonly name: string }>(
  items: readonly T[],
  ref: { id?: unknown; name?: unknown },
): T | undefined {
  if (typeof ref.id === 'string') return items.find((i) => i.id === ref.id);
  if (typeof ref.id === 'number') return items.find((i) => i.id === String(ref.id));
  if (typeof ref.name === 'string') {
    const name = ref.name.toLowerCase();
    return items.find((i) => i.name.toLowerCase() === name);
  }
  return undefined;
}
