/**
 * Jira Cloud REST v3 simulator: an in-memory, deterministic Jira site on loopback for tests, the
 * demo and `claw-jira sim`. Speaks Jira's dialect (status codes, bodies, paging, JQL, errors) for
 * the operations in SIM_OPERATIONS, with fault injection and state hashing for assertions.
 */
export { startSimulator, type RunningSimulator, type SimulatorOptions } from './server.js';
export { SIM_USERS, SIM_PEOPLE, type SimCredentialedUser, type SimPerson, type SimUserName } from './users.js';
export { SIM_FIXTURES, type InjectionFact, type MovedIssueFact } from './fixtures.js';
export { SIM_OPERATIONS } from './routes.js';
export { FaultController, FAULT_KINDS, RATE_LIMIT_REASONS, parseFaultSpec, type ActiveFault, type FaultKind, type FaultSpec, type RateLimitReason } from './faults.js';
export type { RecordedRequest } from './recorder.js';
export type { SimSnapshot, SimIssue, SimComment, SimHistory, ChangeItem } from './model.js';
