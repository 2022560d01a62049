/**
 * Strict base64url (RFC 7515 §2: unpadded, URL alphabet) that admits exactly one spelling of each byte string.
 * Lenient decoders ignore the unused low bits of the last character, so up to 16 strings decode to one
 * signature; accepting them would let a stored signature, a token or a receipt change with no check noticing.
 */
export function isCanonicalBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/** Three canonical base64url segments: the only compact JWS form claw-jira accepts. */
export function isCanonicalCompactJws(jws: string): boolean {
  const parts = jws.split('.');
  return parts.length === 3 && parts.every(isCanonicalBase64url);
}
