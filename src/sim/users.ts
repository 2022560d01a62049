/**
 * The simulated site's users and their project permissions. Static: tests, the demo and the CLI use
 * these credentials. They only open this in-memory simulator; they are not secrets.
 */

export type Access = 'none' | 'browse' | 'write' | 'admin';

export interface SimPerson {
  readonly accountId: string;
  readonly displayName: string;
  readonly email: string;
  readonly active: boolean;
  readonly timeZone: string;
}

export interface SimCredentialedUser extends SimPerson {
  readonly apiToken: string;
  readonly bearer: string;
}

interface UserRecord extends SimPerson {
  readonly apiToken?: string;
  readonly bearer?: string;
  /** Access per project key; `*` is the default for projects not listed. */
  readonly access: Readonly<Record<string, Access>>;
}

const agent = {
  accountId: '712020:5e1f0c3a-7a4e-4c1b-9d2f-0a9c1ce7a001',
  displayName: 'Claw Agent',
  email: 'agent@claw-sim.test',
  active: true,
  timeZone: 'Etc/UTC',
  apiToken: 'ATATT-sim-agent-7Qk2p9Lm4Xv8Rz1Tn6Bw',
  bearer: 'sim-oauth-agent-3Hf8Kd2Wq9Zp5Lr7',
  // Jira itself lets the agent do everything: the product's policy, not Jira, must narrow it.
  access: { '*': 'admin' },
} as const satisfies UserRecord;

const limited = {
  accountId: '712020:5e1f0c3a-7a4e-4c1b-9d2f-0a9c1ce7a002',
  displayName: 'Riley Contractor',
  email: 'limited@claw-sim.test',
  active: true,
  timeZone: 'Europe/Berlin',
  apiToken: 'ATATT-sim-limited-2Vd7Np4Kq8Ls1Xr5Tm',
  bearer: 'sim-oauth-limited-8Gk3Pw6Rz1Nc4Jd9',
  access: { ENG: 'write', OPS: 'write', '*': 'none' },
} as const satisfies UserRecord;

const viewer = {
  accountId: '712020:5e1f0c3a-7a4e-4c1b-9d2f-0a9c1ce7a003',
  displayName: 'Avery Auditor',
  email: 'viewer@claw-sim.test',
  active: true,
  timeZone: 'America/New_York',
  apiToken: 'ATATT-sim-viewer-6Bq1Zm8Kt3Wv5Pn2Rd',
  bearer: 'sim-oauth-viewer-1Lx7Cv4Mq9Ts2Hb6',
  access: { '*': 'browse' },
} as const satisfies UserRecord;

const admin = {
  accountId: '712020:5e1f0c3a-7a4e-4c1b-9d2f-0a9c1ce7a004',
  displayName: 'Sam Siteadmin',
  email: 'admin@claw-sim.test',
  active: true,
  timeZone: 'Etc/UTC',
  apiToken: 'ATATT-sim-admin-9Wr4Ty7Mk2Qp6Zs3Vn',
  bearer: 'sim-oauth-admin-5Nd2Kx8Pb3Rq7Wf1',
  access: { '*': 'admin' },
} as const satisfies UserRecord;

function person(n: number, displayName: string, email: string, timeZone: string, active = true): UserRecord {
  return {
    accountId: `5b10ac8d82e05b22cc7d4e${String(n).padStart(2, '0')}`,
    displayName,
    email,
    active,
    timeZone,
    access: { '*': 'write' },
  };
}

/** People who work on issues: assignees, reporters and commenters. They have no API credentials. */
const PEOPLE_RECORDS: readonly UserRecord[] = [
  person(1, 'Alice Nguyen', 'alice@claw-sim.test', 'Europe/London'),
  person(2, 'Bob Martins', 'bob@claw-sim.test', 'America/Sao_Paulo'),
  person(3, 'Chen Wei', 'chen@claw-sim.test', 'Asia/Shanghai'),
  person(4, 'Dana Kowalski', 'dana@claw-sim.test', 'Europe/Warsaw'),
  person(5, 'Emeka Obi', 'emeka@claw-sim.test', 'Africa/Lagos'),
  person(6, 'Farah Haddad', 'farah@claw-sim.test', 'Asia/Dubai'),
  person(7, 'Gus Lindqvist', 'gus@claw-sim.test', 'Europe/Stockholm'),
  person(8, 'Hana Sato', 'hana@claw-sim.test', 'Asia/Tokyo'),
  person(9, 'Former Employee', 'former@claw-sim.test', 'Etc/UTC', false),
];

/** Credentials for tests and the demo (basic `email:apiToken`, or `Authorization: Bearer <bearer>`). */
export const SIM_USERS = {
  /** Jira lets this user do everything on every project (policy must narrow it). */
  agent: agent as SimCredentialedUser,
  /** Can see and change ENG and OPS only: SEC and HR answer 404. */
  limited: limited as SimCredentialedUser,
  /** Can browse every project and change nothing: writes answer 403. */
  viewer: viewer as SimCredentialedUser,
  /** Site administrator. */
  admin: admin as SimCredentialedUser,
} as const;

export type SimUserName = keyof typeof SIM_USERS;

const ALL_USERS: readonly UserRecord[] = [agent, limited, viewer, admin, ...PEOPLE_RECORDS];
const BY_ACCOUNT: ReadonlyMap<string, UserRecord> = new Map(ALL_USERS.map((u) => [u.accountId, u]));

export const SIM_PEOPLE: readonly SimPerson[] = PEOPLE_RECORDS.map(({ access: _access, ...p }) => p);

export function allUsers(): readonly SimPerson[] {
  return ALL_USERS;
}

export function userById(accountId: string): SimPerson | undefined {
  return BY_ACCOUNT.get(accountId);
}

export function credentialedUsers(): readonly SimCredentialedUser[] {
  return ALL_USERS.filter((u): u is UserRecord & SimCredentialedUser => u.apiToken !== undefined && u.bearer !== undefined);
}

const RANK: Record<Access, number> = { none: 0, browse: 1, write: 2, admin: 3 };

export function accessOf(accountId: string, projectKey: string): Access {
  const user = BY_ACCOUNT.get(accountId);
  if (!user || !user.active) return 'none';
  return user.access[projectKey] ?? user.access['*'] ?? 'none';
}

export function hasAccess(accountId: string, projectKey: string, needed: Access): boolean {
  return RANK[accessOf(accountId, projectKey)] >= RANK[needed];
}
