// The storage contract of the WPC registry, apart from registry.ts so that backends elsewhere (claw/clawcontrols.ts)
// implement it without importing the registry that imports them.

/** A WPC found by an address that is not its own hash (clawcontrols: the hash of its Claw WPC v1 form). */
export interface ResolvedWpc {
  bytes: Uint8Array;
  signature: string;
  /** `sha256:<hex>` of the carried WPC's canonical bytes. */
  hash: string;
  /** The author the wrapper claims (`issuer_did`): must be the did:key of the policy key that signed. */
  issuerDid: string;
  claw: { policy_hash_b64u: string; registry_did: string };
}

/** Raw storage by address. Backends only move bytes; all checking of the WPC itself happens in `WpcRegistry`. */
export interface RegistryBackend {
  readonly location: string;
  get(hex: string): Promise<{ bytes: Uint8Array; signature: string } | undefined>;
  /** Backends that address WPCs by something else than their hash resolve the address themselves. */
  resolve?(address: string): Promise<ResolvedWpc | undefined>;
}
