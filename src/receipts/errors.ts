import { ClawError } from '../util/errors.js';

export class ReceiptError extends ClawError {
  constructor(code: 'RECEIPT_WRITE_FAILED' | 'RECEIPT_LOG_CLOSED', message: string) {
    super(code, message);
    this.name = 'ReceiptError';
  }
}
