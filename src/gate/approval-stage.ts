import { join } from 'node:path';
import type { TrustStore } from '../keys/trust.js';
import type { DecisionDraft } from '../receipts/build.js';
import type { ApprovalPort } from '../state/ports.js';
import { codeOf, describeError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { canElicit, needsApproval } from '../policy/approval.js';
import { ALWAYS_APPROVAL } from '../wpc/operations.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import { GateDenied } from './denial.js';
import type { TargetFacts, Tool, ToolContext } from './tool.js';
import { checkTargetUnchanged, elicitationText } from './write-path.js';

/**
 * Asks the human at the MCP client to confirm one exact call (MCP elicitation). Offered only for
 * operations the WPC lists in `approval.elicitation`, never for high-risk ones, and only when the client
 * supports it. Resolves true only on an explicit yes.
 */
export type ConfirmWithUser = (message: string) => Promise<boolean>;

/** What the approval stage needs of the gate. */
export interface ApprovalStage {
  approvals: ApprovalPort;
  trust: TrustStore;
  job: string;
  server: string;
  bundleDir: string;
  now: () => Date;
  /** The kill switch and the token again: a human's answer may have taken minutes. */
  recheck: () => Promise<void>;
}

/** One write about to be approved (or not): the tool, its arguments exactly as sent and their hash. */
export interface ApprovalCall {
  tool: Tool;
  rawArgs: unknown;
  argsHash: string;
  wpc: VerifiedWpc;
  target: TargetFacts;
  ctx: ToolContext;
  confirm: ConfirmWithUser | undefined;
}

/**
 * Approval: a signed approval of this exact call is used once; otherwise a request is filed and, where the
 * WPC allows it and the client can, the human is asked. Returns only when the call is approved (recording
 * how in `draft.approval`); throws the refusal otherwise.
 */
export async function approve(stage: ApprovalStage, call: ApprovalCall, draft: DecisionDraft): Promise<void> {
  const { tool, wpc } = call;
  if (!needsApproval(tool.operation, wpc.policy)) return;
  const approved = await attempt('APPROVAL_INVALID', () =>
    stage.approvals.consume({ job: stage.job, tool: tool.name, args_hash: call.argsHash, wpc_hash: wpc.hash }, stage.trust, stage.now()),
  );
  if (approved) {
    draft.approval = { request_id: approved.request.request_id, approval_id: approved.claims.request_id, via: 'signed' };
    bundleApproval(stage, approved.request.request_id, { request: approved.request, approval: approved.approvalJws, used_at: approved.usedAt });
    return;
  }
  const request = await attempt(
    'APPROVAL_STORE_UNAVAILABLE',
    async () =>
      stage.approvals.fileRequest(
        {
          job: stage.job,
          server: stage.server,
          tool: tool.name,
          operation: tool.operation,
          args_hash: call.argsHash,
          args: call.rawArgs,
          target: { ...(call.target.project ? { project: call.target.project } : {}), issue_keys: call.target.issueKeys },
          wpc_hash: wpc.hash,
        },
        stage.now(),
      ),
    'approval.requests',
  );
  draft.approval = { request_id: request.request_id };
  if (!call.confirm || !canElicit(tool.operation, wpc.policy)) {
    bundleApproval(stage, request.request_id, { request });
    throw GateDenied.of(
      'APPROVAL_REQUIRED',
      `this call needs a human approval: ask a person to run 'claw-jira approve ${request.request_id}', then repeat the identical call`,
      ALWAYS_APPROVAL.includes(tool.operation) ? `always(${tool.operation})` : `approval.operations[${tool.operation}]`,
      { approval_request_id: request.request_id },
    );
  }
  const prompt = elicitationText(tool, call.rawArgs, call.target, wpc);
  if (!prompt.ok) {
    // Never a prompt cut short (a person would approve what they never saw): the filed request can be
    // approved with a signature instead, where the whole call is shown.
    bundleApproval(stage, request.request_id, { request });
    throw GateDenied.of(
      'ELICITATION_TOO_LARGE',
      `${prompt.message}: ask a person to run 'claw-jira approve ${request.request_id}', then repeat the identical call`,
      `approval.elicitation[${tool.operation}]`,
      { approval_request_id: request.request_id },
    );
  }
  const accepted = await call.confirm(prompt.text).catch(() => false);
  bundleApproval(stage, request.request_id, { request, elicitation: { accepted, answered_at: stage.now().toISOString() } });
  if (!accepted) throw GateDenied.of('APPROVAL_DECLINED', 'the user declined this call when asked to confirm it', `approval.elicitation[${tool.operation}]`);
  // The user may have taken minutes to answer: the kill switch, the token and the issue itself (moved to
  // another project meanwhile?) are checked again before the answer counts.
  await stage.recheck();
  await checkTargetUnchanged(call.target, call.ctx);
  draft.approval = { request_id: request.request_id, approval_id: request.request_id, via: 'elicitation' };
  await attempt('APPROVAL_STORE_UNAVAILABLE', () => stage.approvals.markUsed(request.request_id, stage.job, stage.now()));
}

/** An approval store step; its failure refuses at stage `approval` with the store's code (or `fallback`). */
async function attempt<T>(fallback: 'APPROVAL_INVALID' | 'APPROVAL_STORE_UNAVAILABLE', fn: () => Promise<T>, rule?: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = codeOf(error, fallback);
    throw new GateDenied(code, 'approval', describeError(error), [{ code, rule: rule ?? 'approval' }]);
  }
}

/** The approval record goes into the proof bundle beside the receipts: review and verify read it there. */
function bundleApproval(stage: ApprovalStage, requestId: string, record: unknown): void {
  try {
    writeFileAtomic(join(stage.bundleDir, 'approvals', `${requestId}.json`), `${JSON.stringify(record, null, 2)}\n`);
  } catch {
    throw GateDenied.of('APPROVAL_RECORD_FAILED', 'cannot record the approval in the proof bundle');
  }
}
