import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE } from '../bundle/layout.js';
import { hashAddress } from '../util/canonical.js';
import { CLAW_GATEWAY_FILE, parseGatewayLines, type GatewayEnvelope } from './export.js';

/**
 * Where an export lives inside the bundle folder, beside what it was made from, so `bundle verify` can check
 * it against the sealed bundle: `claw/proof-bundle.json` (or `claw/proof-bundle.part-NNN.json` for a run split
 * into parts) and `claw/trust-pulse.json`. Written after the seal, so not covered by the manifest: verify
 * rebuilds them from the sealed content instead.
 */
export const CLAW_DIR = 'claw';
export const TRUST_PULSE_FILE = `${CLAW_DIR}/trust-pulse.json`;

export function clawPartFile(index: number, count: number): string {
  return count === 1 ? `${CLAW_DIR}/proof-bundle.json` : `${CLAW_DIR}/proof-bundle.part-${String(index).padStart(3, '0')}.json`;
}

/** The export files present in a bundle folder, in part order. */
export function listClawPartFiles(bundleDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(bundleDir, CLAW_DIR));
  } catch {
    return [];
  }
  return names.filter((n) => /^proof-bundle(\.part-\d{3})?\.json$/.test(n)).sort().map((n) => `${CLAW_DIR}/${n}`);
}

/** The bytes of an export file: compact JSON, so each embedded gateway receipt is its import line's bytes. */
export function clawFileBytes(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

export function readClawGateway(bundleDir: string): GatewayEnvelope[] {
  const path = join(bundleDir, CLAW_GATEWAY_FILE);
  return existsSync(path) ? parseGatewayLines(readFileSync(path, 'utf8')) : [];
}

export function manifestAddress(bundleDir: string): string {
  return hashAddress(readFileSync(join(bundleDir, BUNDLE.manifest)));
}

