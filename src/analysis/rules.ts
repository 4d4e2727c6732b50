import type { Affected, DominanceAggregate, GcEpisode, Pause, SaturationEpisode, WaitAggregate } from './state.js';
import { ms, offset, percent, threadLabel } from './format.js';
import type { StackFrame } from '../format/events.js';
import { blame, frameLabel, frameLocation, isApplicationFrame } from './stacks.js';
import type { Finding, Severity, TraceStats } from './types.js';

/**
 * The rules: from what the analyzer gathered, the findings, like JDK Mission Control's automated
 * analysis. Each finding says what was wrong, where (time, thread, request, stack), how much it
 * cost (`impact`, for ranking) and how sure the rule is (`confidence`, with the reason in words).
 * Every threshold below is written next to why it has that value.
 */

// ---- thresholds ----

/**
 * A task counts as slowed by a blocked turn or a GC pause when they overlap by at least 10 ms
 * and by at least 10% of the task. The loop source records only turns of 50 ms or more (its
 * default `blockThreshold`), so the overlap is usually large; the two floors leave out the
 * tail of a pause that merely touched a task, and long tasks (a 30 s job) for which a pause is
 * noise.
 */
export const SLOWED_MIN_OVERLAP_NS = 10e6;
export const SLOWED_MIN_SHARE = 0.1;

/**
 * A synchronous region (flag 1: it ran from its begin to its end without yielding) of 50 ms or
 * more blocked the loop for all of it: the same threshold as the loop source's default
 * `blockThreshold`. Such a region stands for a block the loop source did not record, which
 * happens when a snapshot is taken inside the slow request itself, before the source's next
 * tick; when the source did record it, the record is used instead.
 */
export const SYNC_REGION_BLOCK_NS = 50e6;

/**
 * A blocked turn that delayed no request is still reported from 100 ms: twice the recorder's
 * default threshold, so the routine 50-99 ms turns of start-up (module loading, JIT warm-up)
 * do not drown the report, while a turn a user would notice as lag is kept.
 */
export const LONELY_BLOCK_NS = 100e6;

/**
 * A single GC pause of 50 ms or more is reported. V8's scavenges take about 1-10 ms and its
 * mark-compact pauses, with concurrent marking, usually 5-30 ms; 50 ms is the point past
 * which a pause is as visible to requests as the loop source's blocked turns (same threshold)
 * and points at a large or fragmented heap. 500 ms or more is critical: requests time out.
 */
export const LONG_GC_PAUSE_NS = 50e6;
export const CRITICAL_GC_PAUSE_NS = 500e6;

/**
 * GC pressure: the share of wall time in GC pauses, per 1 s window. A healthy Node service
 * spends a few percent of its time in GC; 10% or more over a second means the application
 * allocates faster than the young generation can absorb, or the old generation is near its
 * limit, and a tenth of its capacity is gone; 25% or more is critical (a quarter lost, and
 * usually on the way to an out-of-memory crash). Windows of 1 s smooth out single pauses
 * (reported by the rule above) while still catching a few seconds of trouble in a 10 s
 * window. Consecutive windows above the threshold make one finding. Windows cut to less than
 * half a second by the trace's edges are not judged.
 */
export const GC_WINDOW_NS = 1e9;
export const GC_PRESSURE_SHARE = 0.1;
export const CRITICAL_GC_PRESSURE_SHARE = 0.25;

/**
 * A request waits on an outgoing call when one call covers at least half of the request and
 * lasts 50 ms or more: then the downstream service, not this process, is where most of the
 * request's latency went (a call of a few ms is not worth an engineer's time even when it is
 * most of a fast request).
 */
export const WAIT_MIN_CALL_NS = 50e6;
export const WAIT_MIN_SHARE = 0.5;

/**
 * A region dominates a task when it covers at least half of a task that lasted 50 ms or more:
 * then that region is where to look first. Of several nested regions above the share, the
 * shortest (the most specific) is named. Tasks under 50 ms are left out: the rule is about
 * where slow work spends its time.
 */
export const MIN_DOMINATED_TASK_NS = 50e6;
export const DOMINANT_REGION_SHARE = 0.5;

/**
 * The loop is saturated when `loop.utilization` (the share of time the loop was not waiting
 * for I/O) stays at 0.9 or more for at least 1 s: the loop then has no slack, so every new
 * event waits behind the work already queued and latency grows with load, even with no single
 * long turn. 0.9 rather than 1: utilization near 1 is reached only with the loop idle for no
 * more than a few ms per interval, and latency rises steeply well before. 1 s (ten samples at
 * the source's default interval) tells sustained load from a burst. A stretch mostly made of
 * recorded blocked turns (80% or more) is left to the block findings. 5 s or more is critical.
 */
export const SATURATION_UTILIZATION = 0.9;
export const SATURATION_MIN_NS = 1e9;
export const CRITICAL_SATURATION_NS = 5e9;
const SATURATION_EXPLAINED_BY_BLOCKS = 0.8;

/**
 * Severity by the time a problem added to one request: 1 s or more is critical (the common
 * order of client timeouts and of what users abandon), 100 ms or more is a warning (the
 * threshold of perceptible delay), less is information.
 */
const CRITICAL_DELAY_NS = 1e9;
const WARNING_DELAY_NS = 100e6;

// ---- inputs ----

/** What the analyzer hands the rules. */
export interface FindingInputs {
  stats: TraceStats;
  /** Blocked loop turns and long GC pauses, longest first, with what they affected. */
  blocks: Pause[];
  gcs: Pause[];
  gcEpisodes: GcEpisode[];
  saturation: (SaturationEpisode & { blocked: number })[];
  waits: WaitAggregate[];
  dominance: DominanceAggregate[];
  /** Stall watchdog records, in trace order. */
  stalls?: StallRecord[];
  threadName(id: number): string | undefined;
}

/** A `stall` event: a watchdog thread saw thread `thread` blocked, and took its stack. */
export interface StallRecord {
  /** When the watchdog wrote it, and how long the thread had been blocked by then (at least). */
  time: number;
  blocked: number;
  thread: number;
  /** The blocked thread's JavaScript stack, innermost first; empty when it could not be taken. */
  stack: readonly StackFrame[];
  /** Requests and tasks open on the blocked thread at that moment (a few, requests first), and how many there were. */
  open: { task: number; name: string; isRequest: boolean; start: number }[];
  openCount: number;
}

/** All findings, most severe first, then by impact. */
export function buildFindings(inputs: FindingInputs): Finding[] {
  const findings = [
    ...blockFindings(inputs),
    ...gcPauseFindings(inputs),
    ...gcPressureFindings(inputs),
    ...waitFindings(inputs),
    ...dominanceFindings(inputs),
    ...saturationFindings(inputs),
    ...stallFindings(inputs),
    ...lossFindings(inputs),
  ];
  const rank: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };
  return findings.sort((a, b) => rank[b.severity] - rank[a.severity] || (b.impact ?? 0) - (a.impact ?? 0) || a.time - b.time);
}

function delaySeverity(delay: number): Severity {
  if (delay >= CRITICAL_DELAY_NS) return 'critical';
  if (delay >= WARNING_DELAY_NS) return 'warning';
  return 'info';
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function affectedText(pause: Pause, list: Affected[]): string {
  const total = pause.affectedRequests + pause.affectedTasks;
  if (total === 0) return '';
  const what = pause.affectedRequests > 0 ? `${pause.affectedRequests} request${pause.affectedRequests === 1 ? '' : 's'}` : `${pause.affectedTasks} task${pause.affectedTasks === 1 ? '' : 's'}`;
  const shown = list.filter((a) => a.isRequest === pause.affectedRequests > 0).slice(0, 3);
  const parts = shown.map((a) => `${a.name} (task ${a.task}) by ${ms(a.overlap)} (${percent(a.overlap / a.duration)} of its ${ms(a.duration)})`);
  const more = (pause.affectedRequests > 0 ? pause.affectedRequests : pause.affectedTasks) - shown.length;
  return ` It delayed ${what}: ${parts.join(', ')}${more > 0 ? `, and ${more} more` : ''}.`;
}

// ---- request-slowed-by-loop-block, loop-blocked ----

/**
 * `request-slowed-by-loop-block`: a blocked loop turn overlapped requests on its thread. While
 * the loop is blocked no other callback of that thread runs, so each request open during the
 * block could not progress for the overlap (the request whose own handler blocked paid it
 * too: the block is its time). The finding names the code that blocked:
 *
 * 1. from the CPU samples taken during the block, when the `cpu` source was on: the innermost
 *    application frame in at least half of them (see `blame` in stacks.ts). Sure in proportion
 *    to that share, and to the number of samples up to 5 (fewer cannot tell a function from
 *    chance);
 * 2. else from what the trace says ran on the thread during the block: the region with the
 *    longest overlap (sure at most 0.6: a region says which task's step ran, not which code),
 *    else an async callback (0.5), else the task (0.4), each scaled by the share of the block
 *    it covers.
 *
 * Confidence is 0.55 (the block and the overlap are measured; the cause is not known) plus up
 * to 0.4 for the cause. Severity from the worst delay of one request (see `delaySeverity`),
 * critical too when the delays add up to 5 s. Impact: the sum of the delays.
 *
 * `loop-blocked`: the same for a block that delayed no request: reported when it delayed a
 * task, or lasted 100 ms or more (`LONELY_BLOCK_NS`); information, a warning from 1 s.
 */
function blockFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  const cpuOn = inputs.stats.sources?.cpu?.state === 'on' || inputs.stats.cpu.samples > 0;
  for (const block of inputs.blocks) {
    if (block.kind !== 'block' || block.superseded) continue;
    const affected = block.affected.values();
    const delayedRequests = block.affectedRequests > 0;
    if (!delayedRequests && block.affectedTasks === 0 && block.duration < LONELY_BLOCK_NS) continue;
    const cause = blockCause(block, cpuOn);
    const inferred = block.inferredFrom !== undefined;
    const thread = threadLabel(block.thread, inputs.threadName(block.thread));
    const worst = affected[0];
    const finding: Finding = {
      rule: delayedRequests ? 'request-slowed-by-loop-block' : 'loop-blocked',
      severity: 'info',
      // An inferred block is as sure as a region's sync flag; its cause the rule weighs as usual.
      confidence: round2((inferred ? 0.5 : 0.55) + 0.4 * cause.score),
      title: `Event loop blocked ${ms(block.duration)} by ${cause.short}${worst !== undefined ? `, delaying ${worst.name}` : ''}`,
      detail: `The event loop of thread ${thread} was blocked for ${ms(block.duration)} from ${offset(block.start, inputs.stats.start)}${inferred ? `, while the synchronous region "${block.inferredFrom}" ran (a synchronous region does not yield to the loop; the trace has no record of this block from the loop source, which writes it at its next tick: the snapshot was likely taken before that, or the source was off)` : ''}. ${cause.detail}${affectedText(block, affected)}`,
      time: block.start,
      duration: block.duration,
      thread: block.thread,
      impact: delayedRequests || block.affectedTasks > 0 ? block.delay : block.duration,
      confidenceReason: `${inferred ? 'the block is inferred from a synchronous region' : `the block and its overlap with ${worst !== undefined ? 'the requests' : 'the thread'} are measured`}; ${cause.reason}`,
    };
    if (worst !== undefined) {
      finding.task = worst.task;
      if (worst.isRequest) finding.request = worst.name;
      finding.affected = affected.map(({ task, name, duration, overlap }) => ({ task, name, duration, overlap }));
    }
    if (cause.stack !== undefined) finding.stack = cause.stack;
    if (cause.frame !== undefined) finding.frame = cause.frame;
    if (delayedRequests) {
      finding.severity = block.delay >= 5 * CRITICAL_DELAY_NS ? 'critical' : delaySeverity(worst.overlap);
    } else {
      finding.severity = block.duration >= CRITICAL_DELAY_NS ? 'warning' : 'info';
    }
    findings.push(finding);
  }
  return findings;
}

interface Cause {
  short: string;
  detail: string;
  reason: string;
  score: number;
  stack?: Finding['stack'];
  frame?: Finding['frame'];
}

function blockCause(block: Pause, cpuOn: boolean): Cause {
  const samples = block.samples;
  const found = samples === undefined ? undefined : blame(samples);
  if (found !== undefined) {
    const share = found.samples / found.of;
    const label = frameLabel(found.frame);
    return {
      short: label,
      detail: `${found.samples} of ${found.of} CPU samples taken during the block show ${frameLocation(found.frame)} running.`,
      reason: `${found.samples} of ${found.of} CPU samples in the block show ${label}`,
      score: share * Math.min(1, found.of / 5),
      stack: found.stack,
      frame: found.frame,
    };
  }
  const noSamples = cpuOn ? 'No CPU sample fell inside the block.' : "The trace has no CPU samples (record at level 'cpu' to see the blocking code's stack).";
  const { region, callback, task } = block.culprits;
  const share = (c: { overlap: number }) => Math.min(1, c.overlap / block.duration);
  if (region !== undefined) {
    return {
      short: `${region.label}${region.task !== 0 ? ` of task ${region.task}` : ''}`,
      detail: `${noSamples} During ${percent(share(region))} of it, ${region.label}${region.task !== 0 ? ` of task ${region.task}` : ''} ran on the thread: the code in that region is the likely cause.`,
      reason: `${region.label} covers ${percent(share(region))} of the block, but a region says which step ran, not which code`,
      score: 0.6 * share(region),
    };
  }
  if (callback !== undefined) {
    return {
      short: callback.label,
      detail: `${noSamples} During ${percent(share(callback))} of it, ${callback.label} ran on the thread.`,
      reason: `${callback.label} covers ${percent(share(callback))} of the block, but not which code in it`,
      score: 0.5 * share(callback),
    };
  }
  if (task !== undefined) {
    return {
      short: `code of ${task.label}`,
      detail: `${noSamples} ${task.label} was running on the thread during ${percent(share(task))} of it; the trace shows no region or callback inside it.`,
      reason: `only the task running during the block is known`,
      score: 0.4 * share(task),
    };
  }
  return {
    short: 'unknown code',
    detail: `${noSamples} No task, region or callback of the trace ran on the thread during the block (start-up, or code outside any annotation).`,
    reason: 'nothing in the trace shows what ran during the block',
    score: 0,
  };
}

// ---- long-gc-pause ----

/**
 * `long-gc-pause`: one GC pause of `LONG_GC_PAUSE_NS` (50 ms) or more; critical from
 * `CRITICAL_GC_PAUSE_NS` (500 ms). A pause forced by the application (`gc()` with
 * `--expose-gc`, flag `forced`) is information only: someone asked for it. Confidence 0.9:
 * V8 measures the pause itself (perf_hooks `gc` entries); what it cost requests is their
 * overlap with it.
 */
function gcPauseFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  for (const pause of inputs.gcs) {
    const forced = pause.detail.split(',').includes('forced');
    const affected = pause.affected.values();
    const worst = affected[0];
    const thread = threadLabel(pause.thread, inputs.threadName(pause.thread));
    const finding: Finding = {
      rule: 'long-gc-pause',
      severity: forced ? 'info' : pause.duration >= CRITICAL_GC_PAUSE_NS ? 'critical' : 'warning',
      confidence: 0.9,
      title: `${forced ? 'Forced ' : ''}GC pause of ${ms(pause.duration)} (${pause.name})${worst !== undefined ? `, delaying ${worst.name}` : ''}`,
      detail: `A ${pause.name} garbage collection paused thread ${thread} for ${ms(pause.duration)} from ${offset(pause.start, inputs.stats.start)}${pause.detail !== '' ? ` (flags: ${pause.detail})` : ''}.${forced ? ' It was forced by the application (gc()).' : ' Long pauses come with large heaps: look at memory.heapUsed and at what keeps objects alive.'}${affectedText(pause, affected)}`,
      time: pause.start,
      duration: pause.duration,
      thread: pause.thread,
      impact: Math.max(pause.duration, pause.delay),
      confidenceReason: 'V8 reports the pause and its length itself',
    };
    if (worst !== undefined) {
      finding.task = worst.task;
      if (worst.isRequest) finding.request = worst.name;
      finding.affected = affected.map(({ task, name, duration, overlap }) => ({ task, name, duration, overlap }));
    }
    findings.push(finding);
  }
  return findings;
}

// ---- gc-pressure ----

/**
 * `gc-pressure`: consecutive 1 s windows in which GC pauses took `GC_PRESSURE_SHARE` (10%) of
 * the time or more; critical from `CRITICAL_GC_PRESSURE_SHARE` (25%) over the episode. When
 * most of the GC time was forced by the application, information only. Confidence 0.85: the
 * pauses are measured by V8, but incremental marking steps overlap other work and some of the
 * time counted may not have stopped JavaScript.
 */
function gcPressureFindings(inputs: FindingInputs): Finding[] {
  return inputs.gcEpisodes.map((episode) => {
    const share = episode.gc / episode.span;
    const mostlyForced = episode.forced >= episode.gc / 2;
    const thread = threadLabel(episode.thread, inputs.threadName(episode.thread));
    return {
      rule: 'gc-pressure',
      severity: mostlyForced ? 'info' : share >= CRITICAL_GC_PRESSURE_SHARE ? 'critical' : 'warning',
      confidence: 0.85,
      title: `GC took ${percent(share)} of ${(episode.span / 1e9).toFixed(1)} s${mostlyForced ? ' (forced by the application)' : ''}`,
      detail: `Thread ${thread} spent ${ms(episode.gc)} in garbage collection between ${offset(episode.start, inputs.stats.start)} and ${offset(episode.end, inputs.stats.start)} (${percent(share)} of the time, up to ${percent(episode.peak)} in one second).${mostlyForced ? ` ${percent(episode.forced / episode.gc)} of it was forced by the application (gc()).` : ' The application allocates faster than the heap absorbs, or the heap is near its limit: look at memory.heapUsed and at allocation in hot paths.'}`,
      time: episode.start,
      duration: episode.end - episode.start,
      thread: episode.thread,
      impact: episode.gc,
      confidenceReason: 'GC pauses are measured by V8; parts of incremental collections may have run alongside JavaScript',
    };
  });
}

// ---- request-waiting-on-outgoing-call ----

/**
 * `request-waiting-on-outgoing-call`: requests that spent at least half their time, and 50 ms
 * or more, in one outgoing HTTP call (`WAIT_MIN_*`), grouped by downstream host. Severity from
 * the longest such call (see `delaySeverity`). Confidence 0.9 when the call's record names the
 * request's task; 0.7 when the analyzer inferred it (the call named no task, as on Node 20/22
 * where the implicit current task is off by default, and the request was the only task open on
 * the thread when the call began: another task could in principle have made it).
 */
function waitFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  for (const wait of inputs.waits) {
    const worst = wait.worst;
    if (worst === undefined || wait.requests === 0) continue;
    const call = worst.call;
    const inferred = call.inferredTask;
    const outcome = call.error !== '' ? `failed: ${call.error}` : call.unfinished ? 'had not answered yet (the request or the window ended first)' : `answered ${call.status}`;
    const others = wait.requests - 1;
    findings.push({
      rule: 'request-waiting-on-outgoing-call',
      severity: delaySeverity(worst.waited),
      confidence: inferred ? 0.7 : 0.9,
      title: `${worst.name} waited ${ms(worst.waited)} on ${call.method} ${wait.host}${call.path}${others > 0 ? ` (and ${others} more request${others === 1 ? '' : 's'})` : ''}`,
      detail: `${worst.name} (task ${worst.task}) spent ${ms(worst.waited)} of its ${ms(worst.duration)} (${percent(worst.waited / worst.duration)}) waiting on an outgoing ${call.method} to ${wait.host}${call.path}, which ${outcome}. ${wait.requests > 1 ? `${wait.requests} requests waited on ${wait.host} for most of their time, ${ms(wait.waited)} in all${wait.errors > 0 ? `; ${wait.errors} of those calls failed` : ''}. ` : ''}The downstream service at ${wait.host} is where the latency is.`,
      time: call.start,
      duration: worst.waited,
      thread: worst.thread,
      task: worst.task,
      request: worst.name,
      impact: wait.waited,
      confidenceReason: inferred ? 'the call named no task; it was given to the only request open on its thread when it began' : "the call's record names the request's task",
      affected: [{ task: worst.task, name: worst.name, duration: worst.duration, overlap: worst.waited }],
    });
  }
  return findings;
}

// ---- region-dominates-task ----

/**
 * `region-dominates-task`: a region covering at least half of tasks of 50 ms or more
 * (`DOMINANT_REGION_SHARE`, `MIN_DOMINATED_TASK_NS`), grouped by task (request route or task
 * name) and region name. Information: it says where a slow task's time goes, not that
 * anything is wrong; a warning when the region lasted 1 s or more. Confidence 0.9: both
 * durations are measured directly.
 */
function dominanceFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  for (const d of inputs.dominance) {
    const worst = d.worst;
    if (worst === undefined) continue;
    const share = worst.region / worst.duration;
    const finding: Finding = {
      rule: 'region-dominates-task',
      severity: worst.region >= CRITICAL_DELAY_NS ? 'warning' : 'info',
      confidence: 0.9,
      title: `Region "${d.region}" takes ${percent(share)} of ${d.task}${d.count > 1 ? ` (${d.count} times)` : ''}`,
      detail: `In ${worst.name} (task ${worst.task}), region "${d.region}" took ${ms(worst.region)} of ${ms(worst.duration)} (${percent(share)}), from ${offset(worst.start, inputs.stats.start)}. ${d.count > 1 ? `Across the ${d.count} such ${d.task} tasks of 50 ms or more, "${d.region}" took ${percent(d.regionTotal / d.taskTotal)} of their time. ` : ''}Start there.`,
      time: worst.start,
      duration: worst.duration,
      thread: worst.thread,
      task: worst.task,
      impact: d.regionTotal,
      confidenceReason: 'region and task durations are measured directly',
    };
    if (worst.isRequest) finding.request = worst.name;
    findings.push(finding);
  }
  return findings;
}

// ---- loop-saturated ----

/**
 * `loop-saturated`: `loop.utilization` at `SATURATION_UTILIZATION` (0.9) or more for
 * `SATURATION_MIN_NS` (1 s) or more, not mostly made of recorded blocked turns; critical from
 * `CRITICAL_SATURATION_NS` (5 s). Confidence 0.8: utilization is measured by libuv, but time
 * the process is descheduled by a loaded machine also reads as busy.
 */
function saturationFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  for (const e of inputs.saturation) {
    const duration = e.end - e.start;
    if (duration < SATURATION_MIN_NS || e.blocked >= SATURATION_EXPLAINED_BY_BLOCKS * duration) continue;
    const thread = threadLabel(e.thread, inputs.threadName(e.thread));
    findings.push({
      rule: 'loop-saturated',
      severity: duration >= CRITICAL_SATURATION_NS ? 'critical' : 'warning',
      confidence: 0.8,
      title: `Event loop saturated for ${(duration / 1e9).toFixed(1)} s (utilization ${percent(e.sum / e.samples)} on average)`,
      detail: `The event loop of thread ${thread} had no idle time to speak of from ${offset(e.start, inputs.stats.start)} for ${(duration / 1e9).toFixed(1)} s: utilization stayed at ${percent(SATURATION_UTILIZATION)} or more (${e.samples} samples, mean ${percent(e.sum / e.samples)}, lowest ${percent(e.min)})${e.blocked > 0 ? `, ${ms(e.blocked)} of it in recorded blocked turns` : ', with no single long blocked turn'}. With no idle time left, every new request waits behind the work queued: the process needs less work per request (see the CPU samples) or more processes.`,
      time: e.start,
      duration,
      thread: e.thread,
      impact: duration,
      confidenceReason: 'utilization is measured by libuv, but time the process was descheduled by the machine also reads as busy',
    });
  }
  return findings;
}

// ---- loop-stalled ----

/** Frames of a stall's stack shown in the finding's text; the finding's `stack` holds them all. */
const STALL_FRAMES_SHOWN = 8;

/**
 * `loop-stalled`: a stall watchdog (a thread of the recorder) saw a thread's event loop stuck
 * in one turn past its threshold, and took the thread's JavaScript stack while it was stuck:
 * the trace was written during the stall, so the `stall` record is where the stuck turn is
 * seen (the loop source records the turn only once it ends). The stack is not a sample: it is
 * what was running at that moment, taken from the stuck thread itself through the inspector.
 * The code blamed is the innermost application frame (not Node's own, see `isApplicationFrame`).
 *
 * Severity from the time stuck by then, as for a delay (see `delaySeverity`), but at least a
 * warning: a watchdog fires only past a threshold someone chose. Confidence 0.95 with a stack
 * (the stall and the code are both observed, not inferred); 0.9 without one (the stall is
 * observed; the thread was in native code, which has no JavaScript stack, or the inspector was
 * unavailable). Impact: the time stuck. When the trace also holds the loop source's record of
 * the whole turn, the finding says how long it lasted in the end.
 */
function stallFindings(inputs: FindingInputs): Finding[] {
  const findings: Finding[] = [];
  for (const stall of inputs.stalls ?? []) {
    const thread = threadLabel(stall.thread, inputs.threadName(stall.thread));
    const start = stall.time - stall.blocked;
    const blamed = stall.stack.find(isApplicationFrame) ?? stall.stack[0];
    const hasStack = blamed !== undefined;
    const shown = stall.stack.slice(0, STALL_FRAMES_SHOWN).map(frameLocation);
    const more = stall.stack.length - shown.length;
    const stackText = hasStack
      ? `stack: ${shown.join(' < ')}${more > 0 ? ` < ${more} more` : ''}.`
      : 'no JavaScript stack: the thread did not answer the inspector, so it was inside native code (a synchronous call into Node or an addon: crypto, zlib, fs or child_process *Sync calls), or the inspector was unavailable.';
    const held = stall.open.map((o) => `${o.name} (task ${o.task})`);
    const heldText = stall.openCount > 0 ? ` It held up ${held.join(', ')}${stall.openCount > held.length ? `, and ${stall.openCount - held.length} more` : ''}, open on the thread and unable to progress while it lasted.` : '';
    const whole = inputs.blocks.find((b) => b.kind === 'block' && !b.superseded && b.thread === stall.thread && b.start <= stall.time && b.end >= stall.time);
    const wholeText = whole !== undefined ? ` The whole blocked turn lasted ${ms(whole.duration)} (from ${offset(whole.start, inputs.stats.start)}).` : '';
    const severity = delaySeverity(Math.max(stall.blocked, whole?.duration ?? 0));
    const finding: Finding = {
      rule: 'loop-stalled',
      severity: severity === 'info' ? 'warning' : severity,
      confidence: hasStack ? 0.95 : 0.9,
      title: `Event loop stalled ${ms(stall.blocked)} ${hasStack ? `in ${frameLabel(blamed)}` : 'with no JavaScript stack (native code)'}${stall.open[0] !== undefined ? `, holding up ${stall.open[0].name}` : ''}`,
      detail: `The event loop of thread ${thread} was stalled ${ms(stall.blocked)} (since ${offset(start, inputs.stats.start)} at the latest) when the stall watchdog wrote this trace, ${stackText}${heldText}${wholeText}`,
      time: start,
      duration: stall.blocked,
      thread: stall.thread,
      impact: Math.max(stall.blocked, whole?.duration ?? 0),
      confidenceReason: hasStack
        ? "the watchdog saw the loop stuck and took the stuck thread's own stack while it was stuck"
        : 'the watchdog saw the loop stuck, but the thread was where no JavaScript stack shows',
    };
    if (hasStack) {
      finding.stack = stall.stack;
      finding.frame = blamed;
    }
    const first = stall.open[0];
    if (first !== undefined) {
      finding.task = first.task;
      if (first.isRequest) finding.request = first.name;
      finding.affected = stall.open.map((o) => ({ task: o.task, name: o.name, duration: stall.time - o.start, overlap: stall.time - Math.max(o.start, start) }));
    }
    findings.push(finding);
  }
  return findings;
}

// ---- events-lost ----

/**
 * `events-lost`: the trace misses events (trace memory was full) or whole generations (a
 * streaming destination was too slow). A warning: every other rule may miss what was lost.
 * Confidence 1: the trace records its own losses.
 */
function lossFindings(inputs: FindingInputs): Finding[] {
  const { events, generations } = inputs.stats.lost;
  if (events === 0 && generations === 0) return [];
  const parts = [events > 0 ? `${events} events were dropped because trace memory was full` : '', generations > 0 ? `${generations} whole generations were dropped because the destination was too slow` : ''].filter((p) => p !== '');
  return [{
    rule: 'events-lost',
    severity: 'warning',
    confidence: 1,
    title: `The trace is incomplete: ${parts.join('; ')}`,
    detail: `${parts.join('; ')}. Findings may miss what happened there.`,
    time: inputs.stats.start,
    duration: inputs.stats.duration,
    impact: 0,
    confidenceReason: 'the trace records its own losses',
  }];
}
