import type { DecisionStage, GateReason } from '../receipts/types.js';
import { ClawError } from '../util/errors.js';
import { stageOf, type GateCode, type ToolTargetCode } from './codes.js';

/** A refused call, as the model sees it: a stable code, the rules that decided, and the receipt that proves it. */
export interface Denial {
  code: string;
  stage: DecisionStage;
  message: string;
  reasons: GateReason[];
  /** Hash of the denial receipt; absent only when no receipt could be written (then the server is unusable). */
  receipt?: string;
  approval_request_id?: string;
}

/**
 * A stage of the gate refused the call. A ClawError like every other coded error; `stage` says where, `reasons`
 * what decided (the policy's reasons, or the one gate rule), `extra` what the model needs to go on.
 */
export class GateDenied extends ClawError {
  constructor(
    code: string,
    readonly stage: DecisionStage,
    message: string,
    readonly reasons: GateReason[] = [{ code, rule: stage }],
    readonly extra: { approval_request_id?: string } = {},
  ) {
    super(code, message);
    this.name = 'GateDenied';
  }

  /** A refusal with one of the gate's own codes: its stage comes from the table (codes.ts), never from the caller. */
  static of(code: GateCode, message: string, rule: string = stageOf(code), extra: { approval_request_id?: string } = {}): GateDenied {
    return new GateDenied(code, stageOf(code), message, [{ code, rule }], extra);
  }

  /** A tool's refusal while resolving the call's target from its arguments: always stage `target`. */
  static target(code: ToolTargetCode, message: string, rule = 'target'): GateDenied {
    return new GateDenied(code, 'target', message, [{ code, rule }]);
  }
}
