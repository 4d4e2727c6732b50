import type { StackFrame } from '../format/events.js';

/**
 * Stacks of CPU samples: identities, bounded counting, and which frame to blame.
 *
 * The reader hands out the same frames array for every sample of one stack in a generation, so
 * a stack's key is computed once per generation and cached by array identity.
 */

const keys = new WeakMap<readonly StackFrame[], string>();

/** Identity of a frame: function, script, line and column. */
export function frameKey(f: StackFrame): string {
  return `${f.functionName}\u0000${f.url}\u0000${f.line}\u0000${f.column}`;
}

/** Identity of a whole stack. */
export function stackKey(frames: readonly StackFrame[]): string {
  let key = keys.get(frames);
  if (key === undefined) {
    key = frames.map(frameKey).join('\u0001');
    keys.set(frames, key);
  }
  return key;
}

/**
 * Whether a frame is the application's own code (or its dependencies'), as opposed to Node's
 * internals (`node:` scripts), V8 builtins without a script, and the profiler's pseudo-frames
 * such as `(program)` and `(garbage collector)`. Blame goes to such frames first: they are what
 * an engineer can change.
 */
export function isApplicationFrame(f: StackFrame): boolean {
  if (f.url === '' || f.url.startsWith('node:')) return false;
  return !(f.functionName.startsWith('(') && f.functionName.endsWith(')'));
}

/** A frame's name for people: the function (or `(anonymous)`), its script's last path part, line. */
export function frameLabel(f: StackFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  const file = f.url.slice(f.url.lastIndexOf('/') + 1) || f.url;
  return f.line > 0 ? `${name} (${file}:${f.line})` : `${name} (${file})`;
}

/** A frame with its full location: `fn (url:line:column)`. */
export function frameLocation(f: StackFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  return `${name} (${f.url}${f.line > 0 ? `:${f.line}${f.column > 0 ? `:${f.column}` : ''}` : ''})`;
}

/**
 * Sample counts by stack, in bounded memory: past `maxStacks` distinct stacks, the stacks seen
 * least are dropped (their samples stay in `total` and in `dropped`), so a long trace with
 * many rare stacks keeps the frequent ones exactly and loses only the tail.
 */
export class StackCounter {
  private readonly counts = new Map<string, { frames: readonly StackFrame[]; samples: number }>();
  total = 0;
  dropped = 0;

  constructor(private readonly maxStacks = 10_000) {}

  add(frames: readonly StackFrame[], samples = 1): void {
    this.total += samples;
    const key = stackKey(frames);
    const entry = this.counts.get(key);
    if (entry !== undefined) {
      entry.samples += samples;
      return;
    }
    this.counts.set(key, { frames, samples });
    if (this.counts.size > this.maxStacks) this.prune();
  }

  get size(): number {
    return this.counts.size;
  }

  /** Stacks by samples, most first. */
  top(n: number): { frames: readonly StackFrame[]; samples: number }[] {
    return [...this.counts.values()].sort((a, b) => b.samples - a.samples).slice(0, n);
  }

  /**
   * Per function (frame identity): samples where it runs itself (innermost) and samples where
   * it is anywhere on the stack (counted once per sample even when recursive).
   */
  functions(): { frame: StackFrame; self: number; total: number }[] {
    const byFrame = new Map<string, { frame: StackFrame; self: number; total: number }>();
    for (const { frames, samples } of this.counts.values()) {
      const seen = new Set<string>();
      frames.forEach((frame, depth) => {
        const key = frameKey(frame);
        let entry = byFrame.get(key);
        if (entry === undefined) {
          entry = { frame, self: 0, total: 0 };
          byFrame.set(key, entry);
        }
        if (depth === 0) entry.self += samples;
        if (!seen.has(key)) {
          seen.add(key);
          entry.total += samples;
        }
      });
    }
    return [...byFrame.values()];
  }

  private prune(): void {
    const sorted = [...this.counts.entries()].sort((a, b) => a[1].samples - b[1].samples);
    for (let i = 0; i < sorted.length / 2; i++) {
      this.dropped += sorted[i][1].samples;
      this.counts.delete(sorted[i][0]);
    }
  }
}

/** The frame blamed for a set of samples, with the evidence. */
export interface Blame {
  frame: StackFrame;
  /** Samples that show the frame, and all samples considered. */
  samples: number;
  of: number;
  /** The most frequent stack among the samples that show the frame. */
  stack: readonly StackFrame[];
}

/**
 * Which code the samples of a stretch of time (a blocked loop turn) were running. The blamed
 * frame is the innermost application frame (see {@link isApplicationFrame}) that appears in at
 * least half of the samples: innermost, because outer frames (the request handler, the server's
 * dispatch) appear in every sample of any work they call; at least half, because a frame that
 * runs most of the time is the one whose cost the block mostly is, while a leaf that shows up in
 * a few samples (a `Math` call, a getter) is incidental. When no application frame reaches half,
 * the application frame in the most samples is blamed; when the samples show no application
 * code at all (GC, compilation, Node internals), the innermost frame of the most frequent stack.
 */
export function blame(counter: StackCounter): Blame | undefined {
  if (counter.total === 0 || counter.size === 0) return undefined;
  const functions = counter.functions();
  const totalOf = new Map<string, number>();
  for (const f of functions) totalOf.set(frameKey(f.frame), f.total);
  const stacks = counter.top(counter.size);
  const half = counter.total / 2;
  let chosen: StackFrame | undefined;
  let chosenTotal = Infinity;
  // Of the frames in at least half of the samples, the most specific: a callee is in no more
  // samples than its caller, so the fewest samples is the innermost; ties go to the frame met
  // first walking the most frequent stacks from their innermost frame.
  for (const { frames } of stacks) {
    for (const frame of frames) {
      const total = totalOf.get(frameKey(frame)) ?? 0;
      if (isApplicationFrame(frame) && total >= half && total < chosenTotal) {
        chosen = frame;
        chosenTotal = total;
      }
    }
  }
  if (chosen === undefined) {
    let best = 0;
    for (const f of functions) {
      if (isApplicationFrame(f.frame) && f.total > best) {
        best = f.total;
        chosen = f.frame;
      }
    }
  }
  if (chosen === undefined) chosen = stacks[0].frames[0];
  if (chosen === undefined) return undefined;
  const key = frameKey(chosen);
  const stack = stacks.find((s) => s.frames.some((f) => frameKey(f) === key))?.frames ?? stacks[0].frames;
  return { frame: chosen, samples: totalOf.get(key) ?? 0, of: counter.total, stack };
}
