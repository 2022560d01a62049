import { mkdirSync } from 'node:fs';
import type { ClawHome } from '../../../src/config/home.js';
import type { SigningKey } from '../../../src/keys/ed25519.js';
import type { KeyRole } from '../../../src/keys/roles.js';
import type { TrustStore } from '../../../src/keys/trust.js';
import { wpcDocument } from '../../../src/wpc/document.js';
import { LocalRegistryBackend, WpcRegistry, type VerifiedWpc } from '../../../src/wpc/registry.js';
import { signWpcHash } from '../../../src/wpc/signature.js';
import { seedWpc } from './seed.js';
import { keyedHome } from '../../helpers/env.js';

/** A claw-jira home with real keys, a trust file and a local registry holding the signed seed WPC. */
export interface CoreEnv {
  readonly root: string;
  readonly home: ClawHome;
  readonly trust: TrustStore;
  readonly keys: Readonly<Record<KeyRole, SigningKey>>;
  readonly backend: LocalRegistryBackend;
  readonly registry: WpcRegistry;
  readonly seed: VerifiedWpc;
  /** Sign a WPC with `key` (the policy key by default), store it and return it verified through a registry. */
  publish(wpc: unknown, key?: SigningKey): Promise<VerifiedWpc>;
  cleanup(): void;
}

export async function makeEnv(): Promise<CoreEnv> {
  const { root, home, trust, keys, cleanup } = await keyedHome('claw-core-');
  mkdirSync(home.registryDir, { recursive: true });
  const backend = new LocalRegistryBackend(home.registryDir);
  const registry = new WpcRegistry(backend, trust);
  const publish = async (wpc: unknown, key: SigningKey = keys.policy): Promise<VerifiedWpc> => {
    const document = wpcDocument(wpc);
    backend.put(document, await signWpcHash(document.hash, key));
    return new WpcRegistry(backend, trust).get(document.hash);
  };
  const seed = await publish(seedWpc());
  return { root, home, trust, keys, backend, registry, seed, publish, cleanup };
}
