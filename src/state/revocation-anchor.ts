import { rollback, type RevocationAnchor } from '../cst/revocation.js';
import type { StateJournal } from './journal.js';

/**
 * The newest revocation list this home's servers accepted, kept in the state journal (TUF keeps the newest
 * metadata version the same way): a server started after an older list was put back refuses it.
 */
export function journalRevocationAnchor(journal: StateJournal): RevocationAnchor {
  const refused = (newest: { iat: number; hash: string } | undefined, list: { iat: number; hash: string }): boolean =>
    newest !== undefined && (list.iat < newest.iat || (list.iat === newest.iat && list.hash !== newest.hash));
  return {
    async accept(list) {
      journal.refresh();
      const newest = journal.state.revocation;
      if (refused(newest, list)) throw rollback();
      if (newest && newest.iat === list.iat) return;
      await journal.transact((state) => {
        if (refused(state.revocation, list)) throw rollback();
        if (state.revocation && state.revocation.iat === list.iat) return { entries: [], result: undefined };
        return { entries: [{ type: 'revocation.accepted', iat: list.iat, hash: list.hash }], result: undefined };
      });
    },
  };
}
