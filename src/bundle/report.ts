import { writeFileSync } from 'node:fs';
import { formatProblem } from './problems.js';
import { loadBundle, type BundleContents, type LoadedReceipt } from './contents.js';
import { BundleError } from './errors.js';
import { displayValue, html, type Html } from './html.js';
import type { BundleReview } from './review.js';
import type { BundleVerification } from './verify.js';
import { clawSection } from '../claw/report-section.js';

export interface ReportOptions {
  /** Shown in the header: which trust file the verdict was computed with. */
  trustLabel?: string;
  /** Timeline rows shown at most (a 100k-receipt bundle stays a readable page). */
  maxTimelineRows?: number;
  now?: Date;
}

/**
 * One self-contained HTML page: inline CSS, no script, no external resource, and a Content-Security-Policy
 * that forbids any that an escaping bug might let through. Verdict first, then what an auditor asks for:
 * policy and keys, exceptions, the timeline of calls (server receipts and model-gateway receipts), denials,
 * writes with before/after values, approvals.
 */
export function renderReport(bundleDir: string, verification: BundleVerification, review: BundleReview, options: ReportOptions = {}): string {
  return renderContents(loadBundle(bundleDir), verification, review, options);
}

export function writeReport(path: string, page: string): void {
  try {
    writeFileSync(path, page, 'utf8');
  } catch {
    throw new BundleError('REPORT_UNWRITABLE', `cannot write the report to ${path}`);
  }
}

function renderContents(contents: BundleContents, verification: BundleVerification, review: BundleReview, options: ReportOptions = {}): string {
  const v = verification;
  const s = v.summary;
  const verdict = v.ok ? 'VERIFIED' : 'NOT VERIFIED';
  const title = `claw-jira proof bundle ${s.job ?? ''}: ${verdict}`;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<p class="kicker">claw-jira proof bundle</p>
<h1>Job <code>${s.job ?? '(unknown)'}</code></h1>
<p class="meta">Report generated ${(options.now ?? new Date()).toISOString()}${options.trustLabel ? html` · verified against <code>${options.trustLabel}</code>` : ''}</p>
</header>
<section id="verdict" class="verdict ${v.ok ? 'ok' : 'fail'}" data-verdict="${v.ok ? 'verified' : 'not-verified'}">
<h2>${verdict}</h2>
<p>${v.ok
    ? `Every signature, chain, count, the Merkle root, every WPC and every re-evaluated decision check out (${s.receipts} receipts).`
    : `${v.problems.length} problem(s) found: the record was altered or is incomplete. Do not rely on it before the problems below are explained.`}</p>
<ol class="steps">${v.steps.map((step) => html`<li class="${step.ok ? 'pass' : 'failstep'}"><span>${step.ok ? '✓' : '✗'}</span> ${step.step}${step.problems > 0 ? html` <b>(${step.problems})</b>` : ''}${step.note ? html` <small>${step.note}</small>` : ''}</li>`)}</ol>
</section>
${problemsSection(v)}
${summarySection(v, contents)}
${clawSection(contents)}
${exceptionsSection(review)}
${timelineSection(contents, options.maxTimelineRows ?? 2000)}
${denialsSection(review)}
${writesSection(contents)}
${approvalsSection(contents)}
<footer><p>Self-contained: no scripts, no network. Receipts are the evidence; this page is a view of them. Re-run <code>claw-jira bundle verify</code> to check.</p></footer>
</body>
</html>
`;
  return page.markup;
}

function problemsSection(v: BundleVerification): Html {
  if (v.problems.length === 0 && v.warnings.length === 0) return html``;
  return html`<section id="problems"><h2>Verification problems</h2>
${v.problems.length > 0
    ? html`<table><thead><tr><th>step</th><th>code</th><th>place</th><th>message</th></tr></thead><tbody>
${v.problems.map((p) => html`<tr class="problem" title="${formatProblem(p)}"><td>${p.step}</td><td><code>${p.code}</code></td><td><code>${p.file ?? ''}${p.line !== undefined ? `:${p.line}` : ''}</code></td><td>${p.message}</td></tr>`)}
</tbody></table>`
    : html``}
${v.warnings.length > 0 ? html`<h3>Warnings</h3><ul>${v.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : html``}
</section>`;
}

function summarySection(v: BundleVerification, contents: BundleContents): Html {
  const s = v.summary;
  const m = contents.manifest;
  const rows: [string, unknown][] = [
    ['sealed at', s.sealed_at ?? 'not sealed'],
    ['time window', `${s.time_window.first ?? '?'} → ${s.time_window.last ?? '?'}`],
    ['manifest', s.manifest_hash ?? 'none'],
    ['Merkle root (RFC 9162)', s.merkle_root ?? 'none'],
    ['receipts', `${s.receipts} in ${s.receipt_files} file(s): ${s.kinds.decision} decisions, ${s.kinds.outcome} outcomes, ${s.kinds.event} events`],
    ['tokens (CST jti)', m ? m.tokens.map((t) => `${t.jti} (${t.sub})`).join(', ') || 'none' : `${s.tokens}`],
    ['gateway receipts', `${s.gateway_receipts}`],
    ['approvals', `${s.approvals}`],
  ];
  const keys: [string, string[]][] = [
    ['manifest signer', s.keys.manifest ? [s.keys.manifest] : []],
    ['receipt keys', s.keys.receipt],
    ['policy keys', s.keys.policy],
    ['approver keys', s.keys.approver],
    ['gateway keys', s.keys.gateway],
  ];
  return html`<section id="summary"><h2>Policy, keys and seal</h2>
<table class="kv"><tbody>
<tr><th>WPC in force</th><td>${s.wpcs.length > 0 ? s.wpcs.map((w) => html`<code class="wpc">${w}</code> `) : 'none'}</td></tr>
${rows.map(([k, val]) => html`<tr><th>${k}</th><td><code>${val}</code></td></tr>`)}
${keys.map(([k, ids]) => html`<tr><th>${k}</th><td>${ids.length > 0 ? ids.map((id) => html`<code>${id}</code> `) : 'none'}</td></tr>`)}
</tbody></table></section>`;
}

function exceptionsSection(review: BundleReview): Html {
  return html`<section id="exceptions"><h2>Exceptions for review (${review.exceptions.length})</h2>
${review.exceptions.length === 0
    ? html`<p class="none">No exceptions.</p>`
    : html`<table><thead><tr><th>severity</th><th>code</th><th>message</th><th>place</th></tr></thead><tbody>
${review.exceptions.map((e) => html`<tr class="exception sev-${e.severity}"><td>${e.severity}</td><td><code>${e.code}</code>${e.reason ? html` <code>${e.reason}</code>` : ''}</td><td>${e.message}</td><td><code>${e.file ?? ''}${e.line !== undefined ? `:${e.line}` : ''}</code></td></tr>`)}
</tbody></table>`}</section>`;
}

interface TimelineRow {
  time: string;
  source: string;
  kind: string;
  what: string;
  result: string;
  css: string;
  detail: string;
  issues: string;
}

function timelineSection(contents: BundleContents, max: number): Html {
  const rows: TimelineRow[] = contents.receipts.map(receiptRow);
  for (const g of contents.gateway) {
    for (const e of g.entries) {
      rows.push({
        time: e.time,
        source: g.path.replace(/^gateway\//, 'gateway:').replace(/\.jsonl$/, ''),
        kind: 'model call',
        what: `${e.provider ? `${e.provider}/` : ''}${e.model}`,
        result: 'receipted',
        css: 'gateway',
        detail: `request ${e.request_hash} · response ${e.response_hash}`,
        issues: '',
      });
    }
  }
  rows.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const shown = rows.slice(0, max);
  return html`<section id="timeline"><h2>Timeline (${rows.length} entries)</h2>
<table><thead><tr><th>time</th><th>source</th><th>kind</th><th>call</th><th>result</th><th>issues</th><th>detail</th></tr></thead><tbody>
${shown.map((r) => html`<tr class="timeline ${r.css}"><td class="nowrap"><code>${r.time}</code></td><td class="nowrap">${r.source}</td><td>${r.kind}</td><td>${r.what}</td><td class="result">${r.result}</td><td class="nowrap">${r.issues}</td><td class="detail">${r.detail}</td></tr>`)}
</tbody></table>
${rows.length > shown.length ? html`<p class="note">${rows.length - shown.length} more entries are not shown; the receipts hold all of them.</p>` : html``}
</section>`;
}

function receiptRow(r: LoadedReceipt): TimelineRow {
  const x = r.receipt;
  const base = { time: x.time ?? '', source: `${x.server} #${x.seq}`, issues: (x.issue_keys ?? []).join(', ') };
  // A decision and its outcome name the same call.
  const call = `${x.tool ?? ''} ${x.operation ? `(${x.operation})` : ''}`.trim();
  if (x.kind === 'decision') {
    const effect = x.decision?.effect ?? 'unknown';
    return {
      ...base,
      kind: 'decision',
      what: call,
      result: effect === 'allow' ? 'allowed' : `denied: ${(x.decision?.reasons ?? []).map((reason) => reason.code).join(', ')}`,
      css: effect === 'allow' ? 'allow' : 'deny',
      detail: `stage ${x.decision?.stage ?? '?'}${x.cst ? ` · token ${x.cst.jti}` : ''}${x.approval ? ` · approval ${x.approval.request_id}` : ''}`,
    };
  }
  if (x.kind === 'outcome') {
    const status = x.outcome?.status ?? 'unknown';
    return {
      ...base,
      kind: 'outcome',
      what: call,
      result: `${status}${x.outcome?.code ? `: ${x.outcome.code}` : ''}`,
      css: status === 'succeeded' ? 'ok' : 'bad',
      detail: (x.jira ?? []).map((j) => `${j.method} ${j.path} → ${j.status ?? 'no answer'}`).join(' · '),
    };
  }
  return { ...base, kind: 'event', what: x.event?.type ?? 'event', result: '', css: 'event', detail: '' };
}

function denialsSection(review: BundleReview): Html {
  const entries = Object.entries(review.denials_by_reason).sort((a, b) => b[1] - a[1]);
  return html`<section id="denials"><h2>Denials by reason (${review.stats.denied})</h2>
${entries.length === 0 ? html`<p class="none">No denials.</p>` : html`<table><thead><tr><th>reason</th><th>count</th></tr></thead><tbody>
${entries.map(([code, n]) => html`<tr class="denial"><td><code>${code}</code></td><td>${n}</td></tr>`)}
</tbody></table>`}</section>`;
}

function writesSection(contents: BundleContents): Html {
  const writes = contents.receipts.filter((r) => r.receipt.kind === 'outcome' && (r.receipt.changes ?? []).length > 0);
  return html`<section id="writes"><h2>Writes with before and after values (${writes.length})</h2>
${writes.length === 0 ? html`<p class="none">No writes.</p>` : writes.map((r) => html`<article class="write">
<h3><code>${r.receipt.tool ?? r.receipt.operation ?? 'write'}</code> · ${r.receipt.outcome?.status ?? '?'} · <code>${r.receipt.time ?? ''}</code> <small><code>${r.file}:${r.line}</code></small></h3>
<table class="diff"><thead><tr><th>issue</th><th>field</th><th>before</th><th>after</th></tr></thead><tbody>
${(r.receipt.changes ?? []).map((c) => html`<tr class="change"><td><code>${c.issue}</code></td><td><code>${c.field}</code></td><td class="before"><pre>${displayValue(c.before)}</pre></td><td class="after"><pre>${displayValue(c.after)}</pre></td></tr>`)}
</tbody></table></article>`)}
</section>`;
}

function approvalsSection(contents: BundleContents): Html {
  return html`<section id="approvals"><h2>Approvals (${contents.approvals.length})</h2>
${contents.approvals.length === 0 ? html`<p class="none">No approvals.</p>` : html`<table><thead><tr><th>request</th><th>call</th><th>state</th><th>approver key</th></tr></thead><tbody>
${contents.approvals.map((a) => {
    const request = (a.content?.request ?? a.content ?? {}) as Record<string, unknown>;
    const call = `${String(request.tool ?? '?')} ${request.operation ? `(${String(request.operation)})` : ''} args ${String(request.args_hash ?? '?')}`;
    const state = a.usedAt ? `approved, used ${a.usedAt}` : a.approvalJws ? 'approved, not used' : 'requested, not approved';
    return html`<tr class="approval"><td><code>${a.requestId}</code></td><td>${call}</td><td>${state}</td><td><code>${a.approverKid ?? ''}</code></td></tr>`;
  })}
</tbody></table>`}</section>`;
}

const CSS = `
:root{--ok:#146c2e;--bad:#b3261e;--muted:#5f6368;--line:#dadce0;--bg:#fff;--fg:#202124}
*{box-sizing:border-box}body{margin:0 auto;max-width:1200px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:12px 0 6px}
.kicker{text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0;font-size:12px}.meta,.note,.none,small{color:var(--muted)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:break-word}
pre{white-space:pre-wrap;margin:0;max-height:240px;overflow:auto}
.verdict{border-radius:8px;padding:12px 18px;margin:16px 0;color:#fff}.verdict h2{border:0;margin:0;font-size:26px;color:#fff}
.verdict.ok{background:var(--ok)}.verdict.fail{background:var(--bad)}.verdict p{margin:6px 0}
.steps{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-wrap:wrap;gap:6px 14px}.steps small{color:#f1f3f4}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f8f9fa;font-weight:600}.kv th{width:200px}
tr.deny td.result,tr.bad td.result{color:var(--bad);font-weight:600}tr.allow td.result,tr.ok td.result{color:var(--ok)}
tr.gateway{background:#f3f0ff}tr.event{color:var(--muted)}
tr.sev-critical{background:#fce8e6;font-weight:600}tr.sev-high{background:#fef7e0}
td.before{background:#fce8e6}td.after{background:#e6f4ea}td.detail{color:var(--muted);font-size:12px}
footer{margin-top:32px;color:var(--muted);font-size:12px}.nowrap{white-space:nowrap}
`;

