/** Loopback hosts: the only ones a plain-http Claw service URL may name (tests, a local sidecar). */
export function isLoopbackUrl(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}
