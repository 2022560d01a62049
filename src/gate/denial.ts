import type { DecisionStage, GateReason } from '../receipts/types.js';

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

export class GateDenied extends Error {
  constructor(
    readonly code: string,
    readonly stage: DecisionStage,
    message: string,
    readonly reasons: GateReason[] = [{ code, rule: stage }],
    readonly extra: { approval_request_id?: string } = {},
  ) {
    super(message);
    this.name = 'GateDenied';
  }
}
