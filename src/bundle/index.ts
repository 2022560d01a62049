/** Proof bundles: seal, verify, review, rollback-plan, report, gateway import. The public API of src/bundle. */
export { BUNDLE, SEAL_SERVER, isSealed, isSealFile, listReceiptFiles, resolveBundleDir } from './layout.js';
export { BundleError, type BundleErrorCode } from './errors.js';
export { sealBundle, computeManifest, writeSeal, SEALED_EVENT, type SealOptions, type SealResult } from './seal.js';
export { ManifestSchema, manifestBytes, type Manifest } from './manifest.js';
export { verifyBundle, type BundleVerification, type VerifyOptions, type StepResult, type VerifySummary } from './verify.js';
export { VERIFY_STEPS, formatProblem, type BundleProblem, type VerifyStep } from './problems.js';
export { reviewBundle, exceptionsAtLeast, SEVERITIES, type BundleReview, type ReviewException, type ReviewOptions, type Severity } from './review.js';
export { rollbackPlan, type RollbackPlan, type RollbackStep, type JiraCall } from './rollback.js';
export { renderRollbackMarkdown } from './rollback-md.js';
export { checkPlanAgainstJira, type JiraReader } from './rollback-check.js';
export { renderReport, writeReport, type ReportOptions } from './report.js';
export {
  importGatewayReceipts,
  loadGatewayKeys,
  parseGatewayKeys,
  type GatewayEntry,
  type GatewayKeys,
  type ImportGatewayOptions,
  type ImportedGateway,
} from './gateway.js';
export { loadBundle, type BundleContents, type LoadedReceipt } from './contents.js';
