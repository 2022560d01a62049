import type { DecisionStage } from '../receipts/types.js';

/**
 * Every code the gate's own stages raise, and the one stage that raises it: a refusal's stage is looked up
 * here, never written beside the code, so one code cannot drift into two stages. Codes that come from
 * elsewhere (a CST_*, a JIRA_*, a state store's code) keep their own code and take the stage that met them.
 */
export const GATE_CODE_STAGE = {
  // Start-up and the call as a whole.
  TOOL_UNKNOWN: 'config',
  INPUT_INVALID: 'config',
  INTERNAL_ERROR: 'config',
  RECEIPT_WRITE_FAILED: 'config',
  GATE_NOT_WIRED: 'config',
  // The WPC verified at start changed on disk.
  WPC_CHANGED: 'wpc',
  // The token, when nothing more precise is known.
  CST_INVALID: 'cst',
  // Writes switched off.
  WRITES_DISABLED: 'kill_switch',
  KILL_SWITCH_INVALID: 'kill_switch',
  // The real target, from Jira.
  TARGET_NOT_FOUND: 'target',
  TARGET_UNRESOLVED: 'target',
  TARGET_CHANGED: 'target',
  JQL_INVALID: 'target',
  JQL_FIELD_UNKNOWN: 'target',
  FIELD_UNKNOWN: 'target',
  // A human's say.
  APPROVAL_INVALID: 'approval',
  APPROVAL_STORE_UNAVAILABLE: 'approval',
  APPROVAL_REQUIRED: 'approval',
  APPROVAL_DECLINED: 'approval',
  ELICITATION_TOO_LARGE: 'approval',
  APPROVAL_RECORD_FAILED: 'approval',
  // The job's budget.
  BUDGET_EXCEEDED: 'budget',
  BUDGET_UNAVAILABLE: 'budget',
  // After the decision: outcomes of an allowed call, never denials.
  WRITE_NOT_APPLIED: 'allowed',
  TRANSITION_NOT_AVAILABLE: 'allowed',
  ISSUE_TYPE_NOT_IN_PROJECT: 'allowed',
} as const satisfies Record<string, DecisionStage>;

export type GateCode = keyof typeof GATE_CODE_STAGE;

/**
 * Codes a tool raises while resolving its target from the call's arguments (stage `target`). INPUT_INVALID is
 * here as well as above: arguments that contradict each other only once field names are resolved (the same
 * field twice, a structural field through custom_fields) are refused at `target`, while arguments the schema
 * refuses are refused at `config`. Both are pinned by the e2e tests; every other code has one stage.
 */
export const TOOL_TARGET_CODES = ['INPUT_INVALID', 'TARGET_UNRESOLVED', 'JQL_INVALID', 'JQL_FIELD_UNKNOWN', 'FIELD_UNKNOWN'] as const;
export type ToolTargetCode = (typeof TOOL_TARGET_CODES)[number];

export function stageOf(code: GateCode): DecisionStage {
  return GATE_CODE_STAGE[code];
}

/** The types of the event receipts the gate writes: review and the tests name them through these. */
export const EVENT = {
  SERVER_START: 'server.start',
  SERVER_STOP: 'server.stop',
  STATUS_CHECKED: 'status.checked',
  RECEIPTS_TORN_TAIL: 'receipts.torn_tail',
  WPC_CHANGED: 'wpc.changed',
  WRITES_DISABLED_OBSERVED: 'writes.disabled.observed',
  WRITES_ENABLED_OBSERVED: 'writes.enabled.observed',
} as const;
export type EventType = (typeof EVENT)[keyof typeof EVENT];
