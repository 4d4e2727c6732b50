import { hostname } from 'node:os';
import { BatchKind, CLOCK_FREQUENCY, EVENTS } from '../format/events.js';
import { MAX_VARINT_BYTES } from '../format/limits.js';
import { putText } from '../format/text.js';
import { putUvarint } from '../format/varint.js';
import { BatchWriter, ROOM, type BatchRef, type BatchSink } from './batch-writer.js';
import { ChunkPool } from './chunk-pool.js';
import { clockSnapshot, type ClockSnapshot } from './clock.js';
import { CHUNK_BYTES, Ctl, MAX_CHUNKS, type SharedTraceMemory } from './shared-state.js';
import { SourceManager } from './source-manager.js';
import { mergeDemands, type SourceDemand } from './sources.js';
import { ThreadTracer } from './thread-tracer.js';
import { collectWorkerBatches, countSlots } from './worker-slots.js';

/** One whole generation, as its batches sit in the pool, in file order. */
export interface Generation {
  readonly number: number;
  readonly start: ClockSnapshot;
  readonly end: ClockSnapshot;
  /** Sync batch, table batches, event batches, end-of-generation batch. */
  readonly batches: readonly BatchRef[];
  /** Bytes in the file, headers included. */
  readonly bytes: number;
  readonly eventsLost: number;
}

/** A consumer of whole generations: the streaming tracer or a flight recorder. */
export interface Subscriber {
  /** Receives each generation that ends while subscribed. Must not throw or block. */
  onGeneration(generation: Generation): void;
  /** Oldest generation the subscriber still needs; Infinity for none. */
  oldestRetained(): number;
  /** What the subscriber asks of the tracer. */
  readonly demand: TracerDemand;
}

/** What a subscriber asks of the tracer; the tracer serves the most demanding of them. */
export interface TracerDemand {
  /** Generation period in ms. */
  readonly period: number;
  /** Generation size (bytes) past which the tracer ends a generation early. */
  readonly generationBytes: number;
  /** Trace memory this subscriber may hold, in bytes (a window, or a queue of unwritten generations). */
  readonly retainedBytes: number;
  /** The sources it wants recorded, with their settings. */
  readonly sources: SourceDemand;
}

/** A short-lived hold on generations (a snapshot being written). */
export interface Hold {
  oldestRetained(): number;
}

/** Counters for `status()` and the tests. */
export interface HubStats {
  generation: number;
  running: boolean;
  subscribers: number;
  poolChunksInUse: number;
  poolBytesInUse: number;
  eventsLost: number;
  /** Worker threads that joined this tracer and have not exited. */
  workers: number;
}

/** Bytes of slack the pool keeps beyond what subscribers retain, for the generation being written. */
const POOL_SLACK_BYTES = 16 * 1024 * 1024;

/**
 * The main thread's side of the tracer: the generation clock, the subscribers, and the
 * bookkeeping of which generations are still needed. It owns the end of a generation: it
 * closes every thread's open batches, writes the end-of-generation batch, starts the next
 * generation with its sync batch, hands the finished generation to every subscriber and frees
 * the chunks nobody needs any more.
 */
export class Hub implements BatchSink {
  readonly pool: ChunkPool;
  /** The writer of the thread the hub runs on. */
  readonly main: ThreadTracer;
  /** The recording sources, run for the union of the subscribers' demands. */
  readonly sources: SourceManager;
  private readonly words: Int32Array;
  private readonly subscribers = new Set<Subscriber>();
  private readonly holds = new Set<Hold>();
  private readonly control: BatchWriter;
  private current: BatchRef[] = [];
  private currentStart: ClockSnapshot | undefined;
  private currentSync: BatchRef | undefined;
  private lastGeneration = 0;
  private lostAtStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private period = 0;
  private advancing = false;
  private workersEnabled = false;
  private watchingRequests = false;
  private readonly processFacts: readonly [number, string, string, string, string, string];

  constructor(
    readonly memory: SharedTraceMemory,
    thread: number,
    threadName: string,
  ) {
    this.pool = new ChunkPool(memory);
    this.words = this.pool.words;
    this.main = new ThreadTracer(this.pool, thread, threadName, this);
    this.main.onAdvanceRequest = () => this.advance();
    this.sources = new SourceManager(this.main, (enabled) => this.setWorkersEnabled(enabled));
    this.control = new BatchWriter(this.pool, BatchKind.sync, thread, this, true);
    this.processFacts = [process.pid, process.version, process.platform, process.arch, safeHostname(), process.title];
  }

  get running(): boolean {
    return this.words[Ctl.generation] !== 0;
  }

  /** The generation being written now; 0 when stopped. */
  get generation(): number {
    return this.words[Ctl.generation];
  }

  /** A writer filled a batch: it belongs to the current generation. */
  sealed(batch: BatchRef): void {
    this.current.push(batch);
  }

  /**
   * Adds a subscriber. It receives every generation after the current one, so it starts at a
   * generation boundary: the current generation is ended first.
   */
  subscribe(subscriber: Subscriber): void {
    if (this.running) this.advance();
    this.subscribers.add(subscriber);
    if (!this.running) this.start();
    this.applyDemand();
  }

  /** Removes a subscriber after handing it the generation in progress. Stops the tracer when none is left. */
  unsubscribe(subscriber: Subscriber): void {
    if (!this.subscribers.has(subscriber)) return;
    this.advance();
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) {
      this.sources.apply(new Map());
      this.stop();
    } else {
      this.applyDemand();
    }
    this.collect();
  }

  hold(hold: Hold): void {
    this.holds.add(hold);
  }

  release(hold: Hold): void {
    this.holds.delete(hold);
    this.collect();
  }

  /**
   * Ends the current generation now and starts the next. No-op while stopped.
   *
   * The order makes every event fall inside its generation's clock range: the next
   * generation's start is read before writers can see it, the open batches are taken after
   * they can no longer be chosen, and the end is read after they are taken.
   */
  advance(): void {
    if (!this.running || this.advancing) return;
    this.advancing = true;
    try {
      this.sources.flush();
      const number = this.generation;
      const nextStart = clockSnapshot();
      this.switchTo(number + 1);
      for (const batch of this.main.takeOpenBatches()) this.current.push(batch);
      for (const batch of collectWorkerBatches(this.pool, number, this.main.thread)) this.current.push(batch);
      const finished = this.finishGeneration(number, clockSnapshot());
      this.beginGeneration(nextStart);
      for (const subscriber of [...this.subscribers]) {
        try {
          subscriber.onGeneration(finished);
        } catch {
          // A subscriber's failure must not stop the tracer or the others; subscribers count their own errors.
        }
      }
      this.collect();
    } finally {
      this.advancing = false;
    }
  }

  stats(): HubStats {
    const chunks = this.pool.inUse();
    return {
      generation: this.generation,
      running: this.running,
      subscribers: this.subscribers.size,
      poolChunksInUse: chunks,
      poolBytesInUse: chunks * CHUNK_BYTES,
      eventsLost: Atomics.load(this.words, Ctl.eventsLost),
      workers: countSlots(this.words).active,
    };
  }

  private start(): void {
    const start = clockSnapshot();
    this.switchTo(this.lastGeneration + 1);
    this.beginGeneration(start);
    this.watchAdvanceRequests();
  }

  private stop(): void {
    // The subscribers have all had the last generation; what was written since is dropped.
    this.main.release();
    this.control.release();
    this.switchTo(0);
    this.current = [];
    this.currentSync = undefined;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.period = 0;
  }

  /** Makes `number` the generation writers write into (0 stops them). */
  private switchTo(number: number): void {
    if (number !== 0) this.lastGeneration = number;
    Atomics.store(this.words, Ctl.generationChunks, 0);
    Atomics.store(this.words, Ctl.advanceRequest, 0);
    Atomics.store(this.words, Ctl.generation, number);
    Atomics.store(this.words, Ctl.workerGeneration, this.workersEnabled ? number : 0);
  }

  /** Whether worker threads record (the threads source). */
  setWorkersEnabled(enabled: boolean): void {
    this.workersEnabled = enabled;
    Atomics.store(this.words, Ctl.workerGeneration, enabled ? this.generation : 0);
  }

  /** Ends the generation when a worker's writes pushed it past its size limit, even while this thread is idle. */
  private watchAdvanceRequests(): void {
    if (this.watchingRequests || !this.running) return;
    const wait = Atomics.waitAsync(this.words, Ctl.advanceRequest, 0);
    if (!wait.async) {
      queueMicrotask(() => this.advance());
      return;
    }
    this.watchingRequests = true;
    void wait.value.then(() => {
      this.watchingRequests = false;
      if (this.running && Atomics.load(this.words, Ctl.advanceRequest) !== 0) this.advance();
      this.watchAdvanceRequests();
    });
  }

  /** Starts the body of the current generation with its sync batch. */
  private beginGeneration(start: ClockSnapshot): void {
    this.lostAtStart = Atomics.load(this.words, Ctl.eventsLost);
    this.current = [];
    this.currentStart = start;
    this.currentSync = this.writeSync(start);
    this.sources.writeStatuses();
  }

  private finishGeneration(number: number, end: ClockSnapshot): Generation {
    const eventsLost = Atomics.load(this.words, Ctl.eventsLost) - this.lostAtStart;
    const body = this.current.sort(fileOrder);
    this.control.targetGeneration = number;
    const eog = this.writeEndOfGeneration(end, body.length + (this.currentSync ? 1 : 0), eventsLost);
    this.control.targetGeneration = 0;
    const batches: BatchRef[] = [];
    if (this.currentSync !== undefined) batches.push(this.currentSync);
    for (const b of body) batches.push(b);
    if (eog !== undefined) batches.push(eog);
    let bytes = 0;
    for (const b of batches) bytes += 32 + b.payloadSize;
    return { number, start: this.currentStart ?? end, end, batches, bytes, eventsLost };
  }

  private writeSync(clock: ClockSnapshot): BatchRef | undefined {
    const w = this.control;
    w.kind = BatchKind.sync;
    const facts = this.processFacts;
    let need = 1 + 6 * MAX_VARINT_BYTES + 1 + MAX_VARINT_BYTES;
    for (let i = 1; i < facts.length; i++) need += MAX_VARINT_BYTES + 3 * (facts[i] as string).length;
    if (w.reserve(need, clock.trace) !== ROOM) return undefined;
    const b = w.bytes;
    let p = w.pos;
    b[p++] = EVENTS.clock.code;
    p = putUvarint(b, p, CLOCK_FREQUENCY);
    p = putUvarint(b, p, clock.trace);
    p = putUvarint(b, p, clock.monoSec);
    p = putUvarint(b, p, clock.monoNsec);
    p = putUvarint(b, p, clock.wallSec);
    p = putUvarint(b, p, clock.wallNsec);
    b[p++] = EVENTS.process.code;
    p = putUvarint(b, p, facts[0]);
    for (let i = 1; i < facts.length; i++) p = putText(b, p, facts[i] as string);
    w.pos = p;
    w.commit();
    return w.take();
  }

  private writeEndOfGeneration(clock: ClockSnapshot, batches: number, eventsLost: number): BatchRef | undefined {
    const w = this.control;
    w.kind = BatchKind.endOfGeneration;
    if (w.reserve(1 + 7 * MAX_VARINT_BYTES, clock.trace) !== ROOM) return undefined;
    const b = w.bytes;
    let p = w.pos;
    b[p++] = EVENTS.endOfGeneration.code;
    for (const value of [clock.trace, clock.monoSec, clock.monoNsec, clock.wallSec, clock.wallNsec, batches, eventsLost]) {
      p = putUvarint(b, p, value);
    }
    w.pos = p;
    w.commit();
    return w.take();
  }

  /** Frees the chunks of generations no subscriber or hold needs. */
  private collect(): void {
    let oldest = this.running ? this.generation : Infinity;
    for (const s of this.subscribers) oldest = Math.min(oldest, s.oldestRetained());
    for (const h of this.holds) oldest = Math.min(oldest, h.oldestRetained());
    if (oldest === Infinity) oldest = this.lastGeneration + 1;
    Atomics.store(this.words, Ctl.retainedFrom, oldest);
    this.pool.freeOlderThan(oldest);
  }

  /** Serves the most demanding subscriber: the shortest period, the smallest generations, room for everyone's retention. */
  private applyDemand(): void {
    let period = Infinity;
    let generationBytes = Infinity;
    let retained = 0;
    for (const s of this.subscribers) {
      period = Math.min(period, s.demand.period);
      generationBytes = Math.min(generationBytes, s.demand.generationBytes);
      retained += s.demand.retainedBytes;
    }
    if (this.subscribers.size === 0) return;
    this.sources.apply(mergeDemands([...this.subscribers].map((s) => s.demand.sources)));
    const generationChunks = Math.max(4, Math.ceil(generationBytes / CHUNK_BYTES));
    Atomics.store(this.words, Ctl.generationChunkLimit, generationChunks);
    const poolChunks = Math.ceil((retained + 2 * generationChunks * CHUNK_BYTES + POOL_SLACK_BYTES) / CHUNK_BYTES);
    this.pool.setLimit(Math.min(MAX_CHUNKS, poolChunks));
    if (period !== this.period) {
      if (this.timer !== undefined) clearInterval(this.timer);
      this.period = period;
      this.timer = setInterval(() => this.advance(), period);
      this.timer.unref();
    }
  }
}

/** Sync first, then tables, then events, each by thread and sequence; end-of-generation is added last. */
function fileOrder(a: BatchRef, b: BatchRef): number {
  return a.kind - b.kind || a.thread - b.thread || a.sequence - b.sequence;
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return '';
  }
}
