import type { AdfDoc } from './adf.js';

/** One field change in a history entry, as Jira's changelog reports it. */
export interface ChangeItem {
  field: string;
  fieldtype: 'jira' | 'custom';
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
}

export interface SimHistory {
  id: string;
  authorId: string;
  created: number;
  items: ChangeItem[];
}

export interface SimComment {
  id: string;
  authorId: string;
  updateAuthorId: string;
  body: AdfDoc;
  created: number;
  updated: number;
  /** Comment restriction as the client sent it (`{ type: 'role' | 'group', value }`). */
  visibility?: { type: 'role' | 'group'; value: string; identifier?: string };
}

/** A select option as stored: the option id. Text areas store ADF, numbers a number, text fields a string. */
export type CustomValue = number | string | AdfDoc | { optionId: string } | { issueId: string };

export interface SimIssue {
  id: string;
  key: string;
  projectKey: string;
  /** Keys the issue had before it was moved; Jira keeps answering them. */
  formerKeys: string[];
  typeId: string;
  summary: string;
  description: AdfDoc | null;
  statusId: string;
  resolutionId: string | null;
  resolutionDate: number | null;
  statusCategoryChangeDate: number;
  priorityId: string;
  labels: string[];
  componentIds: string[];
  assigneeId: string | null;
  reporterId: string;
  creatorId: string;
  created: number;
  updated: number;
  dueDate: string | null;
  parentId: string | null;
  custom: Record<string, CustomValue>;
  comments: SimComment[];
  histories: SimHistory[];
}

export interface SimCounters {
  issueId: number;
  commentId: number;
  historyId: number;
  /** Last issue number used per project key (moved issues consume a number in their new project). */
  issueNumber: Record<string, number>;
}

/** Everything that Jira writes change. Plain JSON: snapshot() deep-copies it. */
export interface SimState {
  seed: number;
  /** The simulator's logical clock (ms since epoch); advances only when a write is applied. */
  now: number;
  counters: SimCounters;
  /** Ordered by id. */
  issues: SimIssue[];
}

export type SimSnapshot = SimState;
