import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hashOfJson } from '../util/canonical.js';
import { fileStamp } from '../util/file-stamp.js';
import { ClawError, describeError, isClawError } from '../util/errors.js';
import { ensureDir, writeFileAtomic } from '../util/files.js';
import type { ConfigProblem, ServerConfig } from '../config/server-config.js';
import type { TrustStore } from '../keys/trust.js';
import { CstError } from '../cst/errors.js';
import type { CstVerifier, VerifiedCst } from '../cst/verify.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import type { RevocationAnchor } from '../cst/revocation.js';
import { isClawscopeToken, type ClawscopeVerifier } from '../claw/clawscope.js';
import { JiraClient } from '../jira/client.js';
import { isJiraError } from '../jira/errors.js';
import { ReceiptLog } from '../receipts/log.js';
import { headsDirOf, receiptPublicKey } from '../receipts/heads.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { DecisionStage, FieldChange, GateReason, JiraExchange, ReceiptContent } from '../receipts/types.js';
import { ApprovalStore } from '../approvals/approvals.js';
import { ALWAYS_APPROVAL, NEVER_ELICIT, isWriteOperation, type Operation } from '../wpc/operations.js';
import { addressHex, type VerifiedWpc } from '../wpc/registry.js';
import { WpcError } from '../wpc/errors.js';
import { BudgetExceeded, BudgetLedger, type BudgetUsage } from './budgets.js';
import { decide, deniesOperation, effectiveOperations, effectiveProjects, type DecisionRequest } from '../policy/decide.js';
import { GateDenied, type Denial } from './denial.js';
import { FieldCatalog } from './field-catalog.js';
import { KillSwitch, readKillSwitch, type KillSwitchState } from './kill-switch.js';
import type { StateJournal } from '../state/journal.js';
import type { ApprovalPort, BudgetStore, KillSwitchCheck, ReceiptSink } from '../state/ports.js';
import { checkTargetUnchanged, elicitationText } from './write-path.js';
import { TokenReader } from './token-source.js';
import { wireGate, type StartupProblem } from './wiring.js';
import { findTornTails, recordSession } from './session-index.js';
import { buildStatus, type ServerStatus } from './status.js';
import { ensureRunId } from '../claw/run-id.js';
import type { Target, Tool, ToolContext } from './tool.js';

export type ServerName = 'jira-read' | 'jira-write';

export interface GateOptions {
  server: ServerName;
  config: ServerConfig;
  problems: ConfigProblem[];
  /** Injected by tests; built from the config otherwise. */
  jira?: JiraClient;
  now?: () => Date;
  /** Where the CST comes from; `serve` passes the bearer token of the request in flight. Default: the config's token source. */
  tokens?: { current(): string | undefined };
  /** The replay store; `serve` passes the shared Postgres one. Default: the file store under CLAW_HOME. */
  replay?: ReplayClaims;
  /** A kill switch besides the file; `serve` passes the database row as read for the request in flight. */
  killSwitch?: { current(): KillSwitchState | undefined };
  /**
   * State kept elsewhere than the files under CLAW_HOME (`serve` on Postgres: shared by every replica). Each one
   * given replaces the file default; `receipts` opens the session's receipt sink.
   */
  state?: {
    budgets?: BudgetStore;
    approvals?: ApprovalPort;
    receipts?: (session: { job: string; server: ServerName; runId: string }) => ReceiptSink;
    /** The revocation high-water mark (default: the state journal under CLAW_HOME). */
    revocation?: RevocationAnchor;
  };
}

/**
 * Asks the human at the MCP client to confirm one exact call (MCP elicitation). Offered only for
 * operations the WPC lists in `approval.elicitation`, never for high-risk ones, and only when the client
 * supports it. Resolves true only on an explicit yes.
 */
export type ConfirmWithUser = (message: string) => Promise<boolean>;

export interface CallOptions {
  confirm?: ConfirmWithUser;
}

export type GateResult =
  | { ok: true; data: unknown; receipt: string; decision_receipt: string; outcome: 'succeeded' }
  | { ok: false; denial: Denial };

const WPC_CHANGED = { code: 'WPC_CHANGED', message: 'the WPC file changed after start; restart the server on a signed WPC' };

/** An allowed call whose decision receipt is durable: what its outcome receipt must name. */
interface AllowedCall {
  tool: Tool;
  argsHash: string;
  decisionReceipt: string;
  wpcHash: string;
}

/**
 * The one choke point. Every tool call of both servers passes through `call`, in this order:
 * WPC still the one verified at start → input → CST (signature, claims, revocation, replay) → operation
 * allowed at all → kill switch (writes) → real target from Jira → policy decision → approval → budget →
 * durable decision receipt → Jira → read-back → durable outcome receipt. Any step that cannot complete
 * refuses the call (fail closed), with a denial receipt.
 */
export class Gate {
  readonly server: ServerName;
  readonly problems: StartupProblem[] = [];
  readonly #config: ServerConfig;
  readonly #configProblems: readonly ConfigProblem[];
  readonly #now: () => Date;
  #trust: TrustStore | undefined;
  #wpc: VerifiedWpc | undefined;
  #wpcFile: { path: string; stamp: string } | undefined;
  #wpcChanged = false;
  #log: ReceiptSink | undefined;
  #verifier: CstVerifier | undefined;
  /** The clawscope lane (CLAW_SCOPE_URL), beside claw-jira's own CSTs. */
  #scopeVerifier: ClawscopeVerifier | undefined;
  #tokens: { current(): string | undefined };
  /** A kill switch besides the signed file (`serve`: the database row read for the request in flight). */
  readonly #replay: ReplayClaims | undefined;
  readonly #externalKillSwitch: { current(): KillSwitchState | undefined } | undefined;
  readonly #state: GateOptions['state'];
  #jira: JiraClient | undefined;
  #fields: FieldCatalog | undefined;
  #budgets: BudgetStore | undefined;
  #approvals: ApprovalPort | undefined;
  #journal: StateJournal | undefined;
  #killSwitch: KillSwitchCheck | undefined;
  #killSwitchSeen = false;
  readonly #inFlight = new Set<Promise<GateResult>>();

  private constructor(options: GateOptions) {
    this.server = options.server;
    this.#config = options.config;
    this.#now = options.now ?? (() => new Date());
    this.#tokens = options.tokens ?? new TokenReader(options.config.token);
    this.#externalKillSwitch = options.killSwitch;
    this.#state = options.state;
    this.#replay = options.replay;
    // Turned into problems by the wiring, with everything else that keeps the server from being ready.
    this.#configProblems = options.problems;
    this.#jira = options.jira;
  }

  /** Never throws: whatever fails is kept as a problem, and every call then refuses with it. */
  static async open(options: GateOptions): Promise<Gate> {
    const gate = new Gate(options);
    await gate.#start();
    return gate;
  }

  get ready(): boolean {
    return this.problems.length === 0;
  }

  get wpc(): VerifiedWpc | undefined {
    return this.#wpc;
  }

  get receiptFile(): string | undefined {
    return this.#log?.file;
  }

  async #start(): Promise<void> {
    const config = this.#config;
    const wiring = await wireGate(config, this.#configProblems, {
      ...(this.#jira ? { jira: this.#jira } : {}),
      ...(this.#replay ? { replay: this.#replay } : {}),
      ...(this.#state?.revocation ? { revocationAnchor: this.#state.revocation } : {}),
      now: this.#now,
    });
    this.problems.push(...wiring.problems.map(({ code, message }) => ({ code, message })));
    // Warnings (same OS user as the client, no trust pin) are said where the person who set it up looks.
    for (const warning of wiring.warnings) process.stderr.write(`claw-${this.server}: warning: ${warning.code}: ${warning.message}\n`);
    this.#trust = wiring.trust?.store;
    this.#wpc = wiring.wpc;
    if (wiring.wpcFile) this.#wpcFile = { path: wiring.wpcFile, stamp: fileStamp(wiring.wpcFile) };
    this.#verifier = wiring.verifier;
    this.#jira = wiring.jira;
    this.#journal = wiring.journal;
    this.#scopeVerifier = wiring.scopeVerifier;
    const receiptKey = wiring.receiptKey;
    // The bundle and the receipt log come last but do not depend on the rest: a misconfigured server still
    // leaves receipts of the calls it refused, when it can (never when its own folders are in doubt).
    if (receiptKey && config.job && wiring.diskSafe) {
      await this.#attempt('BUNDLE', () => {
        ensureDir(config.bundleDir);
        const runId = ensureRunId(config.home, config.job);
        const openSink = this.#state?.receipts;
        if (openSink) {
          // The sink records its own session (e.g. a row per session in Postgres); `bundle export` writes the folder.
          this.#log = openSink({ job: config.job, server: this.server, runId });
        } else {
          const log = ReceiptLog.open({
            bundleDir: config.bundleDir,
            job: config.job,
            server: this.server,
            key: receiptKey,
            heads: { dir: headsDirOf(config.home.stateDir) },
            runId,
          });
          this.#log = log;
          recordSession(config.home, config.job, {
            server: this.server,
            session: log.session,
            bundle_dir: config.bundleDir,
            file: relative(config.bundleDir, log.file),
          });
        }
        this.#populateBundle();
        this.#reportTornTails(receiptKey, config.job);
      });
    }
    if (this.#trust && this.#wpc && config.job && this.#journal) {
      const trust = this.#trust;
      const journal = this.#journal;
      await this.#attempt('STATE', () => {
        this.#budgets = this.#state?.budgets ?? new BudgetLedger(join(config.home.stateDir, 'budgets'), config.job, journal);
        this.#approvals =
          this.#state?.approvals ??
          new ApprovalStore(config.home.approvalsDir, {
            journal,
            ...(config.maxPendingApprovals !== undefined ? { maxPending: config.maxPendingApprovals } : {}),
          });
        this.#killSwitch = new KillSwitch(config.home.killSwitchFile, trust, journal);
      });
    }
    if (this.#jira) this.#fields = new FieldCatalog(this.#jira);
    this.#event({
      type: 'server.start',
      server: this.server,
      ready: this.ready,
      problems: this.problems.map((problem) => problem.code),
      pid: process.pid,
    });
  }

  async #attempt(step: string, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.problems.push({ code: isClawError(error) ? error.code : `${step}_FAILED`, message: describeError(error) });
    }
  }

  /**
   * A line torn by a crash mid-write in an earlier session of this job is named at start (RECEIPT_TORN_TAIL, on
   * stderr and as an event); this session writes to its own new file, and seal records the torn tail as found.
   */
  #reportTornTails(key: SigningKey, job: string): void {
    for (const torn of findTornTails(headsDirOf(this.#config.home.stateDir), job, receiptPublicKey(key))) {
      process.stderr.write(`claw-${this.server}: RECEIPT_TORN_TAIL: ${torn.file} ends in a ${torn.bytes}-byte line torn by a crash; this session writes a new file\n`);
      this.#event({ type: 'receipts.torn_tail', code: 'RECEIPT_TORN_TAIL', file: torn.file, bytes: torn.bytes });
    }
  }

  /** The bundle holds what a verifier needs besides the receipts: the WPC in force and the public keys. */
  #populateBundle(): void {
    const dir = this.#config.bundleDir;
    if (this.#wpc) {
      const hex = addressHex(this.#wpc.hash);
      ensureDir(join(dir, 'wpc'));
      if (!existsSync(join(dir, 'wpc', `${hex}.json`))) writeFileAtomic(join(dir, 'wpc', `${hex}.json`), this.#wpc.bytes);
      if (!existsSync(join(dir, 'wpc', `${hex}.sig`))) writeFileAtomic(join(dir, 'wpc', `${hex}.sig`), `${this.#wpc.signature}\n`);
    }
    if (this.#trust) {
      ensureDir(join(dir, 'keys'));
      writeFileAtomic(join(dir, 'keys', 'trust.json'), `${JSON.stringify(this.#trust.toFile(), null, 2)}\n`);
    }
  }

  /** Operations the current token and WPC permit: the server lists exactly the tools for these. */
  async permittedOperations(): Promise<Operation[]> {
    if (!this.ready || !this.#wpc || this.#checkWpcUnchanged() !== undefined) return [];
    try {
      const cst = await this.#verifyToken();
      return effectiveOperations(this.#wpc.policy, cst?.claims.scope);
    } catch {
      return [];
    }
  }

  /**
   * The server's state for the status tool and the start-up report, without any Jira call: start-up problems,
   * then whether the WPC and the token in force still allow calls. With `receipt`, the check leaves an event
   * receipt (the status tool's calls are recorded like every other call).
   */
  async status(options: { receipt?: boolean } = {}): Promise<ServerStatus & { receipt?: string }> {
    let live: { code: string; message: string } | undefined;
    let verified: VerifiedCst | undefined;
    let token: string | undefined;
    let operations: Operation[] = [];
    if (this.ready && this.#wpc) {
      live = this.#checkWpcUnchanged();
      try {
        token = this.#tokens.current();
      } catch {
        token = undefined;
      }
      if (!live) {
        try {
          verified = await this.#verifyToken();
          operations = effectiveOperations(this.#wpc.policy, verified?.claims.scope);
        } catch (error) {
          live = { code: isClawError(error) ? error.code : 'CST_INVALID', message: describeError(error) };
        }
      }
    }
    const status = buildStatus({
      server: this.server,
      config: this.#config,
      startup: this.problems,
      ...(live ? { live } : {}),
      wpcHash: this.#wpc?.hash,
      token,
      ...(verified ? { verified: { sub: verified.claims.sub, jti: verified.claims.jti, exp: verified.claims.exp } } : {}),
      killSwitch: await this.#killSwitchState(),
      operations,
      now: this.#now(),
    });
    if (!options.receipt || !this.#log) return status;
    try {
      const { hash: receipt } = await this.#log.appendDurable({
        kind: 'event',
        time: this.#now().toISOString(),
        event: { type: 'status.checked', server: this.server, ready: status.ready, problems: status.problems.map((problem) => problem.code) },
        ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}),
      });
      return { ...status, receipt };
    } catch {
      return status;
    }
  }

  /** The kill switch as the write path judges it (signed record and this server's journal), for the status tool. */
  async #killSwitchState(): Promise<KillSwitchState | undefined> {
    // The database row `serve` read for this request stops writes as the file does, so the status says so too.
    const external = this.#externalKillSwitch?.current();
    if (external) return external;
    if (!this.#killSwitch) return readKillSwitch(this.#config.home.killSwitchFile);
    try {
      const verdict = await this.#killSwitch.check();
      if (verdict.allowed) return undefined;
      const record = verdict.record;
      if (record && verdict.code === 'WRITES_DISABLED') return { disabled_at: record.at, by: record.by, ...(record.reason ? { reason: record.reason } : {}) };
      return { disabled_at: 'unknown', by: 'unknown', reason: `${verdict.code}: ${verdict.message}` };
    } catch (error) {
      return { disabled_at: 'unknown', by: 'unknown', reason: describeError(error) };
    }
  }

  /** Tracks calls in flight, so a clean stop lets them finish (and receipt their outcomes) before closing. */
  async call(tool: Tool, rawArgs: unknown, options: CallOptions = {}): Promise<GateResult> {
    const running = this.#call(tool, rawArgs, options);
    this.#inFlight.add(running);
    try {
      return await running;
    } finally {
      this.#inFlight.delete(running);
    }
  }

  async #call(tool: Tool, rawArgs: unknown, options: CallOptions): Promise<GateResult> {
    const argsHash = safeArgsHash(rawArgs);
    const base: ReceiptContent = {
      kind: 'decision',
      time: this.#now().toISOString(),
      tool: tool.name,
      operation: tool.operation,
      args_hash: argsHash,
      ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}),
    };
    let cst: VerifiedCst | undefined;
    const exchanges: JiraExchange[] = [];
    try {
      const first = this.problems[0];
      if (first) throw new GateDenied(first.code, 'config', `this server is not configured correctly: ${first.message}`);
      const wpc = this.#wpc as VerifiedWpc;
      const changed = this.#checkWpcUnchanged();
      if (changed) throw new GateDenied(changed.code, 'wpc', changed.message);

      const parsed = tool.parse(rawArgs ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'arguments';
        throw new GateDenied('INPUT_INVALID', 'config', `invalid arguments: ${where}: ${issue?.message ?? 'rejected'}`);
      }
      const args = parsed.data;

      try {
        cst = await this.#verifyToken();
      } catch (error) {
        if (error instanceof CstError) throw new GateDenied(error.code, 'cst', error.message);
        throw error;
      }
      if (cst) base.cst = { jti: cst.claims.jti, token_hash: cst.tokenHash, sub: cst.claims.sub, exp: cst.claims.exp };
      const scope = cst?.claims.scope;
      if (scope) base.scope = scope;

      // An operation the policy or the token refuses outright is refused before Jira is asked anything.
      const operationOnly = decide({ operation: tool.operation }, wpc.policy, scope);
      if (deniesOperation(operationOnly)) {
        base.request = { operation: tool.operation };
        base.policy_decision = operationOnly;
        throw policyDenial(operationOnly.reasons);
      }
      // The kill switch stops writes before anything, target lookups included, reaches Jira.
      const write = isWriteOperation(tool.operation);
      if (write) await this.#checkKillSwitch();

      const ctx = this.#context(wpc, scope, exchanges);
      let target: Target;
      try {
        target = await tool.resolve(args, ctx);
      } catch (error) {
        throw targetDenial(error);
      }
      base.issue_keys = target.issueKeys;
      const request: DecisionRequest = {
        operation: tool.operation,
        ...(target.project !== undefined ? { project: target.project } : {}),
        ...(target.issueType !== undefined ? { issueType: target.issueType } : {}),
        ...(target.fieldsWrite !== undefined ? { fieldsWrite: [...new Set(target.fieldsWrite)].sort() } : {}),
        ...(target.fieldsRead !== undefined ? { fieldsRead: [...new Set(target.fieldsRead)].sort() } : {}),
        ...searchDimensions(target),
      };
      base.request = request;
      const decision = decide(request, wpc.policy, scope);
      base.policy_decision = decision;
      if (decision.effect === 'deny') {
        throw policyDenial(decision.reasons);
      }

      // Budget first (without spending): an approval is never burnt on a call the budget refuses anyway.
      if (write) await this.#checkBudget(tool.operation, wpc);
      // The approval request shows the arguments exactly as sent: they are what argsHash is the hash of.
      if (write) await this.#checkApproval(tool, rawArgs ?? {}, argsHash, wpc, target, base, options.confirm, ctx);
      // The target look-up (and a human's answer) may have taken long: a `writes disable` or a revocation that
      // came in meanwhile stops the write here, the last point before anything is spent or sent.
      if (write) await this.#recheckBeforeWrite();
      if (write) base.budget = await this.#spendBudget(tool.operation, wpc);

      // A write's decision receipt is durable before Jira is called (no durable receipt, no Jira write). A
      // read's is flushed together with its outcome, before the result reaches the model: one disk sync per read.
      const decisionReceipt = await this.#append(
        { ...base, decision: { effect: 'allow', stage: 'allowed', reasons: decision.reasons }, jira: [...exchanges] },
        { durable: write },
      );

      // From here the call is allowed and receipted; what Jira does is an outcome, never a denial.
      const mark = exchanges.length;
      const call: AllowedCall = { tool, argsHash, decisionReceipt, wpcHash: wpc.hash };
      try {
        const run = await tool.run(args, target, ctx);
        const applied = run.applied !== false;
        const outcome = await this.#appendOutcome(call, exchanges.slice(mark), [...target.issueKeys, ...(run.issueKeys ?? [])], {
          ...(run.changes ? { changes: run.changes } : {}),
          result_hash: safeArgsHash(run.data),
          outcome: applied
            ? { status: 'succeeded' }
            : { status: 'not_applied', code: 'WRITE_NOT_APPLIED', message: 'Jira accepted the write but the read-back shows no change' },
        });
        if (!applied) {
          return {
            ok: false,
            denial: {
              code: 'WRITE_NOT_APPLIED',
              stage: 'allowed',
              message: 'Jira accepted the write, but reading the issue back shows the change did not take; nothing was changed',
              reasons: [{ code: 'WRITE_NOT_APPLIED', rule: 'read-back' }],
              receipt: outcome,
            },
          };
        }
        return { ok: true, data: run.data, receipt: outcome, decision_receipt: decisionReceipt, outcome: 'succeeded' };
      } catch (error) {
        return { ok: false, denial: await this.#failedOutcome(call, exchanges.slice(mark), target, error) };
      }
    } catch (error) {
      return { ok: false, denial: await this.#deny(base, exchanges, error) };
    }
  }

  /** A call to a tool this server does not have is refused like any other call: with a receipt. */
  refuseUnknownTool(name: string, rawArgs: unknown): Denial {
    const base: ReceiptContent = {
      kind: 'decision',
      time: this.#now().toISOString(),
      tool: name.slice(0, 200),
      args_hash: safeArgsHash(rawArgs),
      ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}),
    };
    // Synchronous (the executor interface answers an unknown tool at once); rare, so its own sync is fine.
    const { denial, content } = this.#refusal(base, [], new GateDenied('TOOL_UNKNOWN', 'config', `${this.server} has no tool named ${name.slice(0, 100)}`));
    if (content && this.#log) {
      try {
        denial.receipt = this.#log.append(content).hash;
      } catch {
        // No durable receipt: the call is refused all the same.
      }
    }
    return denial;
  }

  #context(wpc: VerifiedWpc, scope: ToolContext['scope'], exchanges: JiraExchange[]): ToolContext {
    const jira = this.#jira as JiraClient;
    const call: ToolContext['call'] = async (pending) => {
      try {
        const { data, request } = await pending;
        exchanges.push(exchange(request));
        return data;
      } catch (error) {
        if (isJiraError(error) && error.request) exchanges.push(exchange(error.request));
        throw error;
      }
    };
    return {
      jira,
      wpc: wpc.policy,
      scope,
      fields: this.#fields as FieldCatalog,
      projects: effectiveProjects(wpc.policy, scope),
      call,
      exchanges,
    };
  }

  /**
   * The current token verified exactly as a call verifies it, for a transport that authenticates before MCP
   * (`serve` answers 401 on a bad bearer token). Throws CstError, or GateDenied when the gate is not ready.
   */
  async verifyCurrentToken(): Promise<VerifiedCst | undefined> {
    const first = this.problems[0];
    if (first) throw new GateDenied(first.code, 'config', first.message);
    return this.#verifyToken();
  }

  async #verifyToken(): Promise<VerifiedCst | undefined> {
    const wpc = this.#wpc as VerifiedWpc;
    const token = this.#tokens.current();
    if (token === undefined) {
      if (wpc.policy.runtime.require_cst) throw new CstError('CST_MISSING', 'no token: set CLAW_CST_FILE (or CLAW_CST) for this server');
      return undefined;
    }
    // The token's own header picks the lane; each lane then checks everything against its own pinned keys.
    if (this.#scopeVerifier && isClawscopeToken(token)) return this.#scopeVerifier.verify(token, wpc);
    return (this.#verifier as CstVerifier).verify(token, wpc);
  }

  /**
   * A WPC is verified once, at start. If its registry file then changes, the change is refused, not
   * reloaded: the server refuses every call until it is restarted on a WPC named by hash.
   */
  #checkWpcUnchanged(): { code: string; message: string } | undefined {
    if (this.#wpcChanged) return WPC_CHANGED;
    if (!this.#wpcFile || !this.#wpc) return undefined;
    const stamp = fileStamp(this.#wpcFile.path);
    if (stamp === this.#wpcFile.stamp) return undefined;
    let same = false;
    try {
      same = Buffer.compare(readFileSync(this.#wpcFile.path), Buffer.from(this.#wpc.bytes)) === 0;
    } catch {
      same = false;
    }
    if (same) {
      this.#wpcFile.stamp = stamp;
      return undefined;
    }
    this.#wpcChanged = true;
    this.#event({ type: 'wpc.changed', wpc_hash: this.#wpc.hash });
    return WPC_CHANGED;
  }

  async #checkKillSwitch(): Promise<void> {
    let verdict;
    try {
      const external = this.#externalKillSwitch?.current();
      verdict = external
        ? {
            allowed: false as const,
            code: 'WRITES_DISABLED' as const,
            message: `writes are disabled (since ${external.disabled_at}${external.reason ? `: ${external.reason}` : ''})`,
          }
        : await (this.#killSwitch as KillSwitch).check();
    } catch (error) {
      throw new GateDenied(isClawError(error) ? error.code : 'KILL_SWITCH_INVALID', 'kill_switch', describeError(error));
    }
    if (!verdict.allowed) {
      if (!this.#killSwitchSeen) {
        this.#event({ type: 'writes.disabled.observed', code: verdict.code, ...(verdict.record ? { disabled_at: verdict.record.at, by: verdict.record.by } : {}) });
      }
      this.#killSwitchSeen = true;
      throw new GateDenied(verdict.code, 'kill_switch', verdict.message, [{ code: verdict.code, rule: 'kill_switch' }]);
    }
    if (this.#killSwitchSeen) this.#event({ type: 'writes.enabled.observed' });
    this.#killSwitchSeen = false;
  }

  /** The kill switch and the token (its revocation above all) again, right before a write is spent and sent. */
  async #recheckBeforeWrite(): Promise<void> {
    await this.#checkKillSwitch();
    await this.#verifyToken().catch((error: unknown) => {
      throw error instanceof CstError ? new GateDenied(error.code, 'cst', error.message) : error;
    });
  }

  async #checkApproval(
    tool: Tool,
    args: unknown,
    argsHash: string,
    wpc: VerifiedWpc,
    target: Target,
    base: ReceiptContent,
    confirm: ConfirmWithUser | undefined,
    ctx: ToolContext,
  ): Promise<void> {
    const needs = ALWAYS_APPROVAL.includes(tool.operation) || (wpc.policy.approval?.operations ?? []).includes(tool.operation);
    if (!needs) return;
    const call = { job: this.#config.job, tool: tool.name, args_hash: argsHash, wpc_hash: wpc.hash };
    const trust = this.#trust as TrustStore;
    let approved;
    try {
      approved = await (this.#approvals as ApprovalPort).consume(call, trust, this.#now());
    } catch (error) {
      throw new GateDenied(isClawError(error) ? error.code : 'APPROVAL_INVALID', 'approval', describeError(error));
    }
    if (approved) {
      base.approval = { request_id: approved.request.request_id, approval_id: approved.claims.request_id, via: 'signed' };
      this.#bundleApproval(approved.request.request_id, { request: approved.request, approval: approved.approvalJws, used_at: approved.usedAt });
      return;
    }
    let request;
    try {
      request = await (this.#approvals as ApprovalPort).fileRequest({
      job: this.#config.job,
      server: this.server,
      tool: tool.name,
      operation: tool.operation,
      args_hash: argsHash,
      args,
      target: { ...(target.project ? { project: target.project } : {}), issue_keys: target.issueKeys },
      wpc_hash: wpc.hash,
    }, this.#now());
    } catch (error) {
      const code = isClawError(error) ? error.code : 'APPROVAL_STORE_UNAVAILABLE';
      throw new GateDenied(code, 'approval', describeError(error), [{ code, rule: 'approval.requests' }]);
    }
    base.approval = { request_id: request.request_id };
    if (confirm && canElicit(tool.operation, wpc)) {
      const prompt = elicitationText(tool, args, target, wpc);
      if (!prompt.ok) {
        // Never a prompt cut short (a person would approve what they never saw): the filed request can be
        // approved with a signature instead, where the whole call is shown.
        this.#bundleApproval(request.request_id, { request });
        throw new GateDenied(
          'ELICITATION_TOO_LARGE',
          'approval',
          `${prompt.message}: ask a person to run 'claw-jira approve ${request.request_id}', then repeat the identical call`,
          [{ code: 'ELICITATION_TOO_LARGE', rule: `approval.elicitation[${tool.operation}]` }],
          { approval_request_id: request.request_id },
        );
      }
      const accepted = await confirm(prompt.text).catch(() => false);
      this.#bundleApproval(request.request_id, { request, elicitation: { accepted, answered_at: this.#now().toISOString() } });
      if (accepted) {
        // The user may have taken minutes to answer: the kill switch, the token and the issue itself (moved to
        // another project meanwhile?) are checked again before the answer counts.
        await this.#recheckBeforeWrite();
        await checkTargetUnchanged(target, ctx);
        base.approval = { request_id: request.request_id, approval_id: request.request_id, via: 'elicitation' };
        try {
          await (this.#approvals as ApprovalPort).markUsed(request.request_id, this.#config.job, this.#now());
        } catch (error) {
          throw new GateDenied(isClawError(error) ? error.code : 'APPROVAL_STORE_UNAVAILABLE', 'approval', describeError(error));
        }
        return;
      }
      throw new GateDenied('APPROVAL_DECLINED', 'approval', 'the user declined this call when asked to confirm it', [
        { code: 'APPROVAL_DECLINED', rule: `approval.elicitation[${tool.operation}]` },
      ]);
    }
    this.#bundleApproval(request.request_id, { request });
    throw new GateDenied(
      'APPROVAL_REQUIRED',
      'approval',
      `this call needs a human approval: ask a person to run 'claw-jira approve ${request.request_id}', then repeat the identical call`,
      [{ code: 'APPROVAL_REQUIRED', rule: ALWAYS_APPROVAL.includes(tool.operation) ? `always(${tool.operation})` : `approval.operations[${tool.operation}]` }],
      { approval_request_id: request.request_id },
    );
  }

  #bundleApproval(requestId: string, record: unknown): void {
    try {
      writeFileAtomic(join(this.#config.bundleDir, 'approvals', `${requestId}.json`), `${JSON.stringify(record, null, 2)}\n`);
    } catch {
      throw new GateDenied('RECEIPT_WRITE_FAILED', 'approval', 'cannot record the approval in the proof bundle');
    }
  }

  async #checkBudget(operation: Operation, wpc: VerifiedWpc): Promise<void> {
    try {
      await (this.#budgets as BudgetStore).check(operation, wpc.policy);
    } catch (error) {
      throw budgetDenial(error);
    }
  }

  async #spendBudget(operation: Operation, wpc: VerifiedWpc): Promise<BudgetUsage> {
    try {
      return await (this.#budgets as BudgetStore).spend(operation, wpc.policy);
    } catch (error) {
      throw budgetDenial(error);
    }
  }

  /**
   * A durable append waits for the log's group commit (one fdatasync shared with every concurrent call, off
   * the event loop); `durable: false` only writes the line, for a read's decision receipt.
   */
  async #append(content: ReceiptContent, options: { durable?: boolean } = {}): Promise<string> {
    if (!this.#log) throw new GateDenied('RECEIPT_WRITE_FAILED', 'config', 'no receipt log: the proof bundle folder is not writable');
    try {
      if (options.durable === false) return this.#log.append(content, { durable: false }).hash;
      return (await this.#log.appendDurable(content)).hash;
    } catch (error) {
      throw new GateDenied(isClawError(error) ? error.code : 'RECEIPT_WRITE_FAILED', 'config', describeError(error));
    }
  }

  #event(event: { type: string; [key: string]: unknown }): void {
    if (!this.#log) return;
    try {
      // Written at once, in order; made durable by the next sync (started here, without waiting for it).
      this.#log.append({ kind: 'event', time: this.#now().toISOString(), event, ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}) }, { durable: false });
      this.#log.flush().catch(() => undefined);
    } catch {
      // Events are informative; the next decision receipt will fail and refuse the call.
    }
  }

  /** Turn any refusal into a denial with a durable receipt. Unexpected errors are refused too, never thrown to the client. */
  async #deny(base: ReceiptContent, exchanges: JiraExchange[], error: unknown): Promise<Denial> {
    const { denial, content } = this.#refusal(base, exchanges, error);
    if (content && this.#log) {
      try {
        denial.receipt = (await this.#log.appendDurable(content)).hash;
      } catch {
        // No durable receipt: the call is refused all the same.
      }
    }
    return denial;
  }

  /** The denial for a refusal, and the content of its receipt (none when the refusal is the receipt log itself). */
  #refusal(base: ReceiptContent, exchanges: JiraExchange[], error: unknown): { denial: Denial; content?: ReceiptContent } {
    const denied =
      error instanceof GateDenied
        ? error
        : new GateDenied(isClawError(error) ? error.code : 'INTERNAL_ERROR', 'config', isClawError(error) ? error.message : 'internal error');
    if (!(error instanceof GateDenied) && !isClawError(error)) {
      process.stderr.write(`claw-jira: unexpected error in gate: ${describeError(error)}\n`);
    }
    const denial: Denial = {
      code: denied.code,
      stage: denied.stage,
      message: denied.message,
      reasons: denied.reasons,
      ...denied.extra,
    };
    if (denied.code === 'RECEIPT_WRITE_FAILED' || denied.code === 'RECEIPT_LOG_CLOSED') return { denial };
    return {
      denial,
      content: {
        ...base,
        time: this.#now().toISOString(),
        decision: { effect: 'deny', stage: denied.stage, reasons: denied.reasons },
        ...(exchanges.length > 0 ? { jira: exchanges } : {}),
      },
    };
  }

  /** The outcome receipt of an allowed call: what Jira did, closing the decision receipt it names. */
  #appendOutcome(call: AllowedCall, jira: JiraExchange[], issueKeys: string[], content: Pick<ReceiptContent, 'changes' | 'outcome' | 'result_hash'>): Promise<string> {
    return this.#append({
      kind: 'outcome',
      time: this.#now().toISOString(),
      tool: call.tool.name,
      operation: call.tool.operation,
      args_hash: call.argsHash,
      decision_ref: call.decisionReceipt,
      wpc_hash: call.wpcHash,
      jira,
      issue_keys: [...new Set(issueKeys)],
      ...content,
    });
  }

  async #failedOutcome(call: AllowedCall, jira: JiraExchange[], target: Target, error: unknown): Promise<Denial> {
    // A tool may still refuse after the decision (e.g. no such transition): keep its code, not INTERNAL_ERROR.
    const known = isClawError(error) || error instanceof GateDenied;
    const code = known ? error.code : 'INTERNAL_ERROR';
    // In doubt: Jira may have applied the write (no complete answer), or did accept it and what failed was
    // the read-back after it. Either way a human must check, and the model must not simply retry.
    const acceptedWrite = jira.some(
      (exchange) =>
        WRITE_METHODS.has(exchange.method) && !READ_POSTS.test(exchange.path) && exchange.status !== null && exchange.status >= 200 && exchange.status < 300,
    );
    const inDoubt = (isJiraError(error) && error.inDoubt) || acceptedWrite;
    const message = known ? error.message : 'internal error while calling Jira';
    let receipt: string | undefined;
    try {
      receipt = await this.#appendOutcome(call, jira, target.issueKeys, {
        outcome: {
          status: 'failed',
          code,
          message: inDoubt ? `${message} (the write may or may not have been applied)` : message,
          ...(inDoubt ? { in_doubt: true } : {}),
        },
      });
    } catch {
      receipt = undefined;
    }
    return {
      code,
      stage: 'allowed',
      message: inDoubt
        ? `the call was allowed, but it may or may not have been applied (${message}): check the issue before any retry`
        : `the call was allowed but Jira refused or failed it: ${message}`,
      reasons: [{ code, rule: 'jira' }],
      ...(receipt ? { receipt } : {}),
    };
  }

  /**
   * A clean stop (stdin closed, SIGTERM, SIGINT): the closing receipt (`server.stop`) is made durable and the
   * session's head record is marked closed, so review can tell a clean stop from a crash.
   */
  async close(): Promise<void> {
    // Bounded: a call waiting on a client that is gone (an elicitation nobody answers) must not hold the stop.
    // A write cut off here has its durable decision receipt and no outcome: review shows it as in doubt.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    const log = this.#log;
    this.#log = undefined;
    await log?.closeDurably({ kind: 'event', time: this.#now().toISOString(), event: { type: 'server.stop', server: this.server }, ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}) });
  }
}

/** How long a clean stop waits for calls in flight before writing the closing receipt. */
const CLOSE_WAIT_MS = 10_000;

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE']);
/** POSTs that only read: a search is not a write. */
const READ_POSTS = /\/search\/(jql|approximate-count)/;

function exchange(request: { method: string; path: string; status: number | undefined; attempts: number }): JiraExchange {
  return { method: request.method, path: request.path, status: request.status ?? null, attempts: request.attempts };
}

/**
 * The hash of the arguments, for every receipt. Arguments JSON cannot canonicalise (nested past the stack,
 * or numbers like 1e400) get a fixed marker instead, so even those calls are refused with a receipt.
 */
function safeArgsHash(rawArgs: unknown): string {
  try {
    return hashOfJson(rawArgs ?? {});
  } catch {
    return 'sha256:uncanonicalizable-arguments';
  }
}

/** Elicitation stands in for a signed approval only where the WPC says so, and never for high-risk operations. */
function canElicit(operation: Operation, wpc: VerifiedWpc): boolean {
  return (wpc.policy.approval?.elicitation ?? []).includes(operation) && !NEVER_ELICIT.includes(operation) && !ALWAYS_APPROVAL.includes(operation);
}

function budgetDenial(error: unknown): GateDenied {
  if (error instanceof BudgetExceeded) {
    return new GateDenied('BUDGET_EXCEEDED', 'budget', error.message, [{ code: 'BUDGET_EXCEEDED', rule: `budgets.${error.budget}` }]);
  }
  return new GateDenied(isClawError(error) ? error.code : 'BUDGET_UNAVAILABLE', 'budget', describeError(error));
}

/** A policy denial names its headline rule, so the model (and the human reading along) sees why. */
function policyDenial(reasons: GateReason[]): GateDenied {
  const first = reasons[0] ?? { code: 'DENIED', rule: 'policy' };
  const more = reasons.length > 1 ? ` (and ${reasons.length - 1} more rule${reasons.length > 2 ? 's' : ''})` : '';
  return new GateDenied(first.code, 'policy', `refused by the policy in force: ${first.code} at ${first.rule}${more}`, reasons);
}

/** A search's and a create's further dimensions (decide.ts documents each), sorted so receipts do not depend on order. */
function searchDimensions(target: Target): Partial<DecisionRequest> {
  return {
    ...(target.projects !== undefined ? { projects: [...new Set(target.projects)].sort() } : {}),
    ...(target.issueTypes !== undefined ? { issueTypes: [...new Set(target.issueTypes)].sort() } : {}),
    ...(target.parentProject !== undefined ? { parentProject: target.parentProject } : {}),
    ...(target.jql !== undefined ? { jql: target.jql } : {}),
  };
}

/** Target resolution failed: the call is refused before any decision, with Jira's own reason. */
function targetDenial(error: unknown): GateDenied {
  if (error instanceof GateDenied) return error;
  if (isJiraError(error)) {
    const code = error.code === 'JIRA_NOT_FOUND' ? 'TARGET_NOT_FOUND' : error.code;
    return new GateDenied(code, 'target', `cannot resolve the target in Jira: ${error.message}`);
  }
  if (error instanceof ClawError) return new GateDenied(error.code, 'target', error.message);
  if (error instanceof WpcError) return new GateDenied(error.code, 'wpc', error.message);
  return new GateDenied('TARGET_UNRESOLVED', 'target', 'cannot resolve the target of this call');
}

export type { FieldChange, DecisionStage, GateReason };
