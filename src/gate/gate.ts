import { readFileSync } from 'node:fs';
import { fileStamp } from '../util/file-stamp.js';
import { ClawError, codeOf, describeError } from '../util/errors.js';
import type { ConfigProblem, ServerConfig } from '../config/server-config.js';
import { CstError } from '../cst/errors.js';
import type { VerifiedCst } from '../cst/verify.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import type { RevocationAnchor } from '../cst/revocation.js';
import type { Scope } from '../cst/scope.js';
import { isClawscopeToken } from '../claw/clawscope.js';
import type { JiraClient } from '../jira/client.js';
import { headsDirOf, receiptPublicKey } from '../receipts/heads.js';
import { decisionReceipt, eventReceipt, outcomeReceipt, type DecisionDraft } from '../receipts/build.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { DecisionStage, FieldChange, GateReason, JiraExchange, ReceiptContent } from '../receipts/types.js';
import { isWriteOperation, type Operation } from '../wpc/operations.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import type { BudgetUsage } from './budgets.js';
import type { Decision } from '../policy/decide.js';
import { effectiveOperations, effectiveProjects } from '../policy/effective.js';
import { EVENT } from './codes.js';
import { GateDenied, type Denial } from './denial.js';
import { FieldCatalog } from './field-catalog.js';
import { isInDoubt } from './in-doubt.js';
import { readKillSwitch, type KillSwitchState } from './kill-switch.js';
import type { ApprovalPort, BudgetStore, KillSwitchCheck, ReceiptSink } from '../state/ports.js';
import { approve, type ConfirmWithUser } from './approval-stage.js';
import { openReceiptSink, openState, populateBundle } from './startup.js';
import { budgetDenial, checkOperation, decideCall, parseInput, resolveTarget, safeArgsHash, tokenDenial, unexpectedDenial } from './pipeline.js';
import { readyOf, type Ready, type ReadyParts } from './ready.js';
import { RecordingJira } from './recording-jira.js';
import { TokenReader } from './token-source.js';
import { wireGate, type StartupProblem } from './wiring.js';
import { findTornTails } from './session-index.js';
import { buildStatus, type ServerStatus } from './status.js';
import type { ResolvedCall, Tool, ToolContext } from './tool.js';

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

export type { ConfirmWithUser };

export interface CallOptions {
  confirm?: ConfirmWithUser;
}

export type GateResult =
  | { ok: true; data: unknown; receipt: string; decision_receipt: string; outcome: 'succeeded' }
  | { ok: false; denial: Denial };

const WPC_CHANGED_MESSAGE = 'the WPC file changed after start; restart the server on a signed WPC';

/** An allowed call whose decision receipt is durable: what its outcome receipt must name. */
interface AllowedCall {
  tool: Tool;
  argsHash: string;
  decisionReceipt: string;
  wpcHash: string;
}

/**
 * The one choke point. Every tool call of both servers passes through `call`, a pipeline of stages in a fixed
 * order (see `#call`); each stage returns what the next needs or throws one coded refusal (GateDenied), and
 * every refusal leaves a denial receipt. Any step that cannot complete refuses the call (fail closed).
 */
export class Gate {
  readonly server: ServerName;
  readonly problems: StartupProblem[] = [];
  readonly #config: ServerConfig;
  readonly #configProblems: readonly ConfigProblem[];
  readonly #now: () => Date;
  readonly #tokens: { current(): string | undefined };
  readonly #replay: ReplayClaims | undefined;
  /** A kill switch besides the signed file (`serve`: the database row read for the request in flight). */
  readonly #externalKillSwitch: { current(): KillSwitchState | undefined } | undefined;
  readonly #state: GateOptions['state'];
  readonly #jiraOption: JiraClient | undefined;
  /** Set only when start-up found no problem: every part a call needs, none missing. */
  #ready: Ready | undefined;
  /** What status reports even when the server is not ready. */
  #wpc: VerifiedWpc | undefined;
  #wpcFile: { path: string; stamp: string } | undefined;
  #wpcChanged = false;
  #log: ReceiptSink | undefined;
  #killSwitch: KillSwitchCheck | undefined;
  #killSwitchSeen = false;
  readonly #inFlight = new Set<Promise<GateResult>>();
  /**
   * Calls in flight in this process, over every gate (`serve` holds one per job and token): a receipt log
   * syncs inline only when its call is the only one, since an inline sync holds the event loop they all share.
   */
  static #inFlightInProcess = 0;

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
    this.#jiraOption = options.jira;
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
      ...(this.#jiraOption ? { jira: this.#jiraOption } : {}),
      ...(this.#replay ? { replay: this.#replay } : {}),
      ...(this.#state?.revocation ? { revocationAnchor: this.#state.revocation } : {}),
      now: this.#now,
    });
    this.problems.push(...wiring.problems.map(({ code, message }) => ({ code, message })));
    // Warnings (same OS user as the client, no trust pin) are said where the person who set it up looks.
    for (const warning of wiring.warnings) process.stderr.write(`claw-${this.server}: warning: ${warning.code}: ${warning.message}\n`);
    const trust = wiring.trust?.store;
    this.#wpc = wiring.wpc;
    if (wiring.wpcFile) this.#wpcFile = { path: wiring.wpcFile, stamp: fileStamp(wiring.wpcFile) };
    const parts: ReadyParts = {
      job: config.job,
      wpc: wiring.wpc,
      trust,
      verifier: wiring.verifier,
      scopeVerifier: wiring.scopeVerifier,
      jira: wiring.jira,
      fields: wiring.jira ? new FieldCatalog() : undefined,
      log: undefined,
      budgets: undefined,
      approvals: undefined,
      killSwitch: undefined,
    };
    const receiptKey = wiring.receiptKey;
    // The bundle and the receipt log come last but do not depend on the rest: a misconfigured server still
    // leaves receipts of the calls it refused, when it can (never when its own folders are in doubt).
    if (receiptKey && config.job && wiring.diskSafe) {
      const job = config.job;
      await this.#attempt('BUNDLE', () => {
        // Busy while other calls are in flight (in any gate of this process): the log then syncs on the
        // thread pool, never on the event loop those calls need.
        this.#log = openReceiptSink(config, { job, server: this.server, key: receiptKey, busy: () => Gate.#inFlightInProcess > 1 }, this.#state?.receipts);
        populateBundle(config.bundleDir, this.#wpc, trust);
        this.#reportTornTails(receiptKey, job);
      });
    }
    parts.log = this.#log;
    const journal = wiring.journal;
    if (trust && wiring.wpc && config.job && journal) {
      const job = config.job;
      await this.#attempt('STATE', () => {
        const state = openState(config, { job, trust, journal }, this.#state);
        parts.budgets = state.budgets;
        parts.approvals = state.approvals;
        parts.killSwitch = state.killSwitch;
      });
    }
    this.#killSwitch = parts.killSwitch;
    if (this.problems.length === 0) {
      const built = readyOf(parts);
      if ('ready' in built) this.#ready = built.ready;
      else this.problems.push({ code: 'GATE_NOT_WIRED', message: `start-up left ${built.missing.join(', ')} unset without saying why` });
    }
    this.#event({
      type: EVENT.SERVER_START,
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
      this.problems.push({ code: codeOf(error, `${step}_FAILED`), message: describeError(error) });
    }
  }

  /**
   * A line torn by a crash mid-write in an earlier session of this job is named at start (RECEIPT_TORN_TAIL, on
   * stderr and as an event); this session writes to its own new file, and seal records the torn tail as found.
   */
  #reportTornTails(key: SigningKey, job: string): void {
    for (const torn of findTornTails(headsDirOf(this.#config.home.stateDir), job, receiptPublicKey(key))) {
      process.stderr.write(`claw-${this.server}: RECEIPT_TORN_TAIL: ${torn.file} ends in a ${torn.bytes}-byte line torn by a crash; this session writes a new file\n`);
      this.#event({ type: EVENT.RECEIPTS_TORN_TAIL, code: 'RECEIPT_TORN_TAIL', file: torn.file, bytes: torn.bytes });
    }
  }

  /** Operations the current token and WPC permit: the server lists exactly the tools for these. */
  async permittedOperations(): Promise<Operation[]> {
    const ready = this.#ready;
    if (!ready || this.#wpcChangedProblem() !== undefined) return [];
    try {
      const cst = await this.#verifyToken(ready);
      return effectiveOperations(ready.wpc.policy, cst?.claims.scope);
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
    const ready = this.#ready;
    if (ready) {
      live = this.#wpcChangedProblem();
      try {
        token = this.#tokens.current();
      } catch {
        token = undefined;
      }
      if (!live) {
        try {
          verified = await this.#verifyToken(ready);
          operations = effectiveOperations(ready.wpc.policy, verified?.claims.scope);
        } catch (error) {
          live = { code: codeOf(error, 'CST_INVALID'), message: describeError(error) };
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
      const event = { type: EVENT.STATUS_CHECKED, server: this.server, ready: status.ready, problems: status.problems.map((problem) => problem.code) };
      const { hash: receipt } = await this.#log.appendDurable(eventReceipt(this.#now().toISOString(), event, this.#wpc?.hash));
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
    Gate.#inFlightInProcess += 1;
    const running = this.#call(tool, rawArgs, options);
    this.#inFlight.add(running);
    try {
      return await running;
    } finally {
      this.#inFlight.delete(running);
      Gate.#inFlightInProcess -= 1;
    }
  }

  /**
   * The pipeline, in the order README's "How a call is decided" documents. Up to the decision receipt each
   * stage may refuse (a denial receipt); after it the call is allowed, and what Jira does is its outcome.
   */
  async #call(tool: Tool, rawArgs: unknown, options: CallOptions): Promise<GateResult> {
    const argsHash = safeArgsHash(rawArgs);
    const draft = this.#draft(tool.name, argsHash, tool.operation);
    let jira: RecordingJira | undefined;
    try {
      const ready = this.#requireReady(); // config
      this.#requireWpcUnchanged(); // WPC unchanged
      const parsed = parseInput(tool, rawArgs); // input
      const scope = await this.#token(ready, draft); // token
      checkOperation(tool.operation, ready.wpc.policy, scope, draft); // operation
      const write = isWriteOperation(tool.operation);
      if (write) await this.#requireWritesEnabled(ready); // kill switch
      const ctx = this.#context(ready, scope);
      jira = ctx.jira;
      const resolved = await resolveTarget(parsed, ctx); // target
      draft.issue_keys = resolved.target.issueKeys;
      const decision = decideCall(tool.operation, resolved.target, ready.wpc.policy, scope, draft); // decide
      // Writes: the budget is checked first (an approval is never burnt on a call the budget refuses anyway);
      // after the approval the kill switch and the token are checked again, the last point before anything is
      // spent or sent (the look-up and a human's answer may have taken long); then the budget is spent.
      if (write) await this.#budget(() => ready.budgets.check(tool.operation, ready.wpc.policy)); // budget checked
      if (write) await this.#approval(ready, { tool, rawArgs, argsHash, resolved, ctx, confirm: options.confirm }, draft); // approval
      if (write) await this.#recheckBeforeWrite(ready); // kill switch and token again
      if (write) draft.budget = await this.#budget(() => ready.budgets.spend(tool.operation, ready.wpc.policy)); // budget spent
      const decisionReceipt = await this.#appendDecision(ready, draft, decision, ctx.jira, write); // decision receipt
      return await this.#runAllowed(ready, { tool, argsHash, decisionReceipt, wpcHash: ready.wpc.hash }, resolved, ctx); // Jira, read-back, outcome receipt
    } catch (error) {
      return { ok: false, denial: await this.#deny(draft, jira?.exchanges ?? [], error) };
    }
  }

  /** The decision receipt's fields known before any stage ran. */
  #draft(tool: string, argsHash: string, operation?: Operation): DecisionDraft {
    return {
      time: this.#now().toISOString(),
      tool,
      ...(operation ? { operation } : {}),
      args_hash: argsHash,
      ...(this.#wpc ? { wpc_hash: this.#wpc.hash } : {}),
    };
  }

  /** Stage config: a server with a start-up problem refuses every call with it. */
  #requireReady(): Ready {
    const first = this.problems[0];
    if (first || !this.#ready) {
      throw new GateDenied(first?.code ?? 'GATE_NOT_WIRED', 'config', `this server is not configured correctly: ${first?.message ?? 'not ready'}`);
    }
    return this.#ready;
  }

  /** Stage WPC: the WPC verified at start is still the one on disk. */
  #requireWpcUnchanged(): void {
    const changed = this.#wpcChangedProblem();
    if (changed) throw GateDenied.of('WPC_CHANGED', changed.message);
  }

  /** Stage token: the CST verified (signature, claims, revocation, replay); its identity and scope go on the receipt. */
  async #token(ready: Ready, draft: DecisionDraft): Promise<Scope | undefined> {
    const cst = await this.#verifyToken(ready).catch((error: unknown) => {
      throw tokenDenial(error);
    });
    if (!cst) return undefined;
    draft.cst = { jti: cst.claims.jti, token_hash: cst.tokenHash, sub: cst.claims.sub, exp: cst.claims.exp };
    draft.scope = cst.claims.scope;
    return cst.claims.scope;
  }

  /** Stage approval (writes): a signed approval used once, or the human asked where the WPC allows it. */
  async #approval(
    ready: Ready,
    call: { tool: Tool; rawArgs: unknown; argsHash: string; resolved: ResolvedCall; ctx: ToolContext; confirm: ConfirmWithUser | undefined },
    draft: DecisionDraft,
  ): Promise<void> {
    const stage = {
      approvals: ready.approvals,
      trust: ready.trust,
      job: ready.job,
      server: this.server,
      bundleDir: this.#config.bundleDir,
      now: this.#now,
      recheck: () => this.#recheckBeforeWrite(ready),
    };
    // The approval request shows the arguments exactly as sent: they are what argsHash is the hash of.
    const { tool, argsHash, ctx, confirm } = call;
    await approve(stage, { tool, rawArgs: call.rawArgs ?? {}, argsHash, wpc: ready.wpc, target: call.resolved.target, ctx, confirm }, draft);
  }

  /** Stage budget: its refusal (over a limit) or failure (unreadable ledger) refuses at `budget`. */
  async #budget<T extends void | BudgetUsage>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw budgetDenial(error);
    }
  }

  /**
   * Stage decision receipt. A write's is durable before Jira is called (no durable receipt, no Jira write). A
   * read's is flushed together with its outcome, before the result reaches the model: one disk sync per read.
   */
  #appendDecision(ready: Ready, draft: DecisionDraft, decision: Decision, jira: RecordingJira, write: boolean): Promise<string> {
    return this.#append(ready.log, decisionReceipt(draft, { effect: 'allow', stage: 'allowed', reasons: decision.reasons }, jira.exchanges), { durable: write });
  }

  /**
   * Stages Jira, read-back and outcome receipt: the tool's run makes the call and reads the result back;
   * the outcome receipt records what happened, and closes the decision receipt. Never a denial from here on.
   */
  async #runAllowed(ready: Ready, call: AllowedCall, resolved: ResolvedCall, ctx: ToolContext): Promise<GateResult> {
    const mark = ctx.jira.exchanges.length;
    const issueKeys = resolved.target.issueKeys;
    let run;
    try {
      run = await resolved.run(ctx);
    } catch (error) {
      return { ok: false, denial: await this.#failedOutcome(ready, call, ctx.jira.since(mark), issueKeys, error) };
    }
    const applied = run.applied !== false;
    let receipt: string;
    try {
      receipt = await this.#appendOutcome(ready, call, ctx.jira.since(mark), [...issueKeys, ...(run.issueKeys ?? [])], {
        ...(run.changes ? { changes: run.changes } : {}),
        result_hash: safeArgsHash(run.data),
        outcome: applied
          ? { status: 'succeeded' }
          : { status: 'not_applied', code: 'WRITE_NOT_APPLIED', message: 'Jira accepted the write but the read-back shows no change' },
      });
    } catch (error) {
      return { ok: false, denial: await this.#failedOutcome(ready, call, ctx.jira.since(mark), issueKeys, error) };
    }
    if (applied) return { ok: true, data: run.data, receipt, decision_receipt: call.decisionReceipt, outcome: 'succeeded' };
    return {
      ok: false,
      denial: {
        code: 'WRITE_NOT_APPLIED',
        stage: 'allowed',
        message: 'Jira accepted the write, but reading the issue back shows the change did not take; nothing was changed',
        reasons: [{ code: 'WRITE_NOT_APPLIED', rule: 'read-back' }],
        receipt,
      },
    };
  }

  /** A call to a tool this server does not have is refused like any other call: with a receipt. */
  async refuseUnknownTool(name: string, rawArgs: unknown): Promise<Denial> {
    const draft = this.#draft(name.slice(0, 200), safeArgsHash(rawArgs));
    // Through the same durable append as every other denial: a receipt sink that commits later (Postgres)
    // must not hand out the hash of a receipt that is not durable yet.
    return this.#deny(draft, [], GateDenied.of('TOOL_UNKNOWN', `${this.server} has no tool named ${name.slice(0, 100)}`));
  }

  /** What a tool may use for this call: a recording client of its own, the policy, the field catalogue. */
  #context(ready: Ready, scope: Scope | undefined): ToolContext {
    return {
      jira: new RecordingJira(ready.jira),
      wpc: ready.wpc.policy,
      scope,
      fields: ready.fields,
      projects: effectiveProjects(ready.wpc.policy, scope),
    };
  }

  /**
   * The current token verified exactly as a call verifies it, for a transport that authenticates before MCP
   * (`serve` answers 401 on a bad bearer token). Throws CstError, or GateDenied when the gate is not ready.
   */
  async verifyCurrentToken(): Promise<VerifiedCst | undefined> {
    const first = this.problems[0];
    if (first || !this.#ready) throw new GateDenied(first?.code ?? 'GATE_NOT_WIRED', 'config', first?.message ?? 'not ready');
    return this.#verifyToken(this.#ready);
  }

  async #verifyToken(ready: Ready): Promise<VerifiedCst | undefined> {
    const token = this.#tokens.current();
    if (token === undefined) {
      if (ready.wpc.policy.runtime.require_cst) throw new CstError('CST_MISSING', 'no token: set CLAW_CST_FILE (or CLAW_CST) for this server');
      return undefined;
    }
    // The token's own header picks the lane; each lane then checks everything against its own pinned keys.
    if (ready.scopeVerifier && isClawscopeToken(token)) return ready.scopeVerifier.verify(token, ready.wpc);
    return ready.verifier.verify(token, ready.wpc);
  }

  /**
   * A WPC is verified once, at start. If its registry file then changes, the change is refused, not
   * reloaded: the server refuses every call until it is restarted on a WPC named by hash.
   */
  #wpcChangedProblem(): { code: string; message: string } | undefined {
    const changed = { code: 'WPC_CHANGED', message: WPC_CHANGED_MESSAGE };
    if (this.#wpcChanged) return changed;
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
    this.#event({ type: EVENT.WPC_CHANGED, wpc_hash: this.#wpc.hash });
    return changed;
  }

  /** Stage kill switch: writes stop before anything, target lookups included, reaches Jira. */
  async #requireWritesEnabled(ready: Ready): Promise<void> {
    let verdict;
    try {
      const external = this.#externalKillSwitch?.current();
      verdict = external
        ? {
            allowed: false as const,
            code: 'WRITES_DISABLED' as const,
            message: `writes are disabled (since ${external.disabled_at}${external.reason ? `: ${external.reason}` : ''})`,
          }
        : await ready.killSwitch.check();
    } catch (error) {
      throw new GateDenied(codeOf(error, 'KILL_SWITCH_INVALID'), 'kill_switch', describeError(error));
    }
    if (!verdict.allowed) {
      if (!this.#killSwitchSeen) {
        this.#event({ type: EVENT.WRITES_DISABLED_OBSERVED, code: verdict.code, ...(verdict.record ? { disabled_at: verdict.record.at, by: verdict.record.by } : {}) });
      }
      this.#killSwitchSeen = true;
      throw new GateDenied(verdict.code, 'kill_switch', verdict.message, [{ code: verdict.code, rule: 'kill_switch' }]);
    }
    if (this.#killSwitchSeen) this.#event({ type: EVENT.WRITES_ENABLED_OBSERVED });
    this.#killSwitchSeen = false;
  }

  /** The kill switch and the token (its revocation above all) again, right before a write is spent and sent. */
  async #recheckBeforeWrite(ready: Ready): Promise<void> {
    await this.#requireWritesEnabled(ready);
    await this.#verifyToken(ready).catch((error: unknown) => {
      throw tokenDenial(error);
    });
  }

  /**
   * A durable append waits for the log's group commit (one fdatasync shared with every concurrent call, off
   * the event loop); `durable: false` only writes the line, for a read's decision receipt.
   */
  async #append(log: ReceiptSink, content: ReceiptContent, options: { durable?: boolean } = {}): Promise<string> {
    try {
      if (options.durable === false) return (await log.appendWritten(content)).hash;
      return (await log.appendDurable(content)).hash;
    } catch (error) {
      throw new GateDenied(codeOf(error, 'RECEIPT_WRITE_FAILED'), 'config', describeError(error));
    }
  }

  #event(event: { type: string; [key: string]: unknown }): void {
    const log = this.#log;
    if (!log) return;
    // Its place in the chain is taken now, in call order; made durable by the next sync (started once it is
    // written, without waiting for it). Events are informative: a failed one leaves the log broken, and the
    // next decision receipt refuses the call.
    log
      .appendWritten(eventReceipt(this.#now().toISOString(), event, this.#wpc?.hash))
      .then(() => log.flush())
      .catch(() => undefined);
  }

  /** Turn any refusal into a denial with a durable receipt. Unexpected errors are refused too, never thrown to the client. */
  async #deny(draft: DecisionDraft, exchanges: JiraExchange[], error: unknown): Promise<Denial> {
    const { denial, content } = this.#refusal(draft, exchanges, error);
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
  #refusal(draft: DecisionDraft, exchanges: JiraExchange[], error: unknown): { denial: Denial; content?: ReceiptContent } {
    const denied = unexpectedDenial(error);
    if (!(error instanceof ClawError)) process.stderr.write(`claw-jira: unexpected error in gate: ${describeError(error)}\n`);
    const denial: Denial = { code: denied.code, stage: denied.stage, message: denied.message, reasons: denied.reasons, ...denied.extra };
    if (denied.code === 'RECEIPT_WRITE_FAILED' || denied.code === 'RECEIPT_LOG_CLOSED') return { denial };
    const verdict = { effect: 'deny' as const, stage: denied.stage, reasons: denied.reasons };
    return { denial, content: decisionReceipt(draft, verdict, exchanges.length > 0 ? exchanges : undefined, this.#now().toISOString()) };
  }

  /** The outcome receipt of an allowed call: what Jira did, closing the decision receipt it names. */
  #appendOutcome(
    ready: Ready,
    call: AllowedCall,
    jira: JiraExchange[],
    issueKeys: string[],
    content: Pick<ReceiptContent, 'changes' | 'outcome' | 'result_hash'> & { outcome: NonNullable<ReceiptContent['outcome']> },
  ): Promise<string> {
    return this.#append(
      ready.log,
      outcomeReceipt({
        time: this.#now().toISOString(),
        tool: call.tool.name,
        operation: call.tool.operation,
        args_hash: call.argsHash,
        decision_ref: call.decisionReceipt,
        wpc_hash: call.wpcHash,
        jira,
        issue_keys: [...new Set(issueKeys)],
        ...content,
      }),
    );
  }

  /** A failed allowed call: its outcome receipt says failed, and whether the write may have been applied. */
  async #failedOutcome(ready: Ready, call: AllowedCall, jira: JiraExchange[], issueKeys: string[], error: unknown): Promise<Denial> {
    // A tool may still refuse after the decision (e.g. no such transition): keep its code, not INTERNAL_ERROR.
    const known = error instanceof ClawError;
    const code = codeOf(error, 'INTERNAL_ERROR');
    // In doubt: Jira may have applied the write (no complete answer), or did accept it and what failed was
    // the read-back after it. Either way a human must check, and the model must not simply retry.
    const inDoubt = isInDoubt(error, jira);
    const message = known ? describeError(error) : 'internal error while calling Jira';
    let receipt: string | undefined;
    try {
      receipt = await this.#appendOutcome(ready, call, jira, issueKeys, {
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
    await log?.closeDurably(eventReceipt(this.#now().toISOString(), { type: EVENT.SERVER_STOP, server: this.server }, this.#wpc?.hash));
  }
}

/** How long a clean stop waits for calls in flight before writing the closing receipt. */
const CLOSE_WAIT_MS = 10_000;

export type { FieldChange, DecisionStage, GateReason };
