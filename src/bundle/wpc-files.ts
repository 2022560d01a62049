import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { BUNDLE, listWpcFiles } from './layout.js';

/** A WPC stored in the bundle as wpc/<hex>.json with its signature wpc/<hex>.sig (the registry's layout). */
export interface BundleWpcFile {
  /** The address its name claims: `sha256:<hex>`. */
  hash: string;
  path: string;
  sigPath: string;
  bytes: Uint8Array;
  /** Signature text, or undefined when the .sig file is missing. */
  signature: string | undefined;
  signerKid: string | null;
}

const NAME = /^wpc\/([0-9a-f]{64})\.(json|sig)$/;

/** The WPCs of a bundle, and any file in wpc/ that is not one (reported by verify). */
export function readBundleWpcs(bundleDir: string): { wpcs: BundleWpcFile[]; strays: string[] } {
  const wpcs: BundleWpcFile[] = [];
  const strays: string[] = [];
  for (const path of listWpcFiles(bundleDir)) {
    const m = NAME.exec(path);
    if (!m) {
      strays.push(path);
      continue;
    }
    const hex = m[1] as string;
    if (m[2] === 'sig') {
      if (!existsSync(join(bundleDir, BUNDLE.wpc, `${hex}.json`))) strays.push(path);
      continue;
    }
    const sigPath = `${BUNDLE.wpc}/${hex}.sig`;
    const signature = existsSync(join(bundleDir, sigPath)) ? readFileSync(join(bundleDir, sigPath), 'utf8') : undefined;
    let signerKid: string | null = null;
    try {
      const kid = signature ? decodeProtectedHeader(signature.trim()).kid : undefined;
      signerKid = typeof kid === 'string' ? kid : null;
    } catch {
      signerKid = null;
    }
    wpcs.push({ hash: `sha256:${hex}`, path, sigPath, bytes: new Uint8Array(readFileSync(join(bundleDir, path))), signature, signerKid });
  }
  return { wpcs, strays };
}
