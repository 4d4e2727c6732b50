import cluster from 'node:cluster';

/**
 * Snapshot collection across a node:cluster: every process records; when one takes a snapshot
 * because of a trigger (or the primary gets the signal), it asks the others to take theirs, over
 * the cluster's own IPC channel. Worker → primary → every other worker; each writes its own file,
 * named by its pid, into the same directory (the workers inherit the primary's settings).
 */

const TAG = 'node-flight-recorder';

interface CollectMessage {
  [TAG]: 'collect';
  reason: string;
  /** Pid of the process whose trigger fired. */
  from: number;
}

function isCollect(message: unknown): message is CollectMessage {
  return typeof message === 'object' && message !== null && (message as Record<string, unknown>)[TAG] === 'collect' && typeof (message as CollectMessage).reason === 'string';
}

export interface ClusterLink {
  /** Asks every other process of the cluster to take a snapshot for `reason`. */
  announce(reason: string): void;
  stop(): void;
}

/**
 * Joins the cluster's collection, calling `collect` when another process asks. Undefined when
 * this process is neither a cluster primary nor a cluster worker.
 */
export function joinCluster(collect: (reason: string, from: number) => void): ClusterLink | undefined {
  if (cluster.isWorker) {
    const onMessage = (message: unknown) => {
      if (isCollect(message) && message.from !== process.pid) collect(message.reason, message.from);
    };
    process.on('message', onMessage);
    return {
      announce(reason) {
        const message: CollectMessage = { [TAG]: 'collect', reason, from: process.pid };
        // A worker whose channel is closing drops the request; its own snapshot is written anyway.
        if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
      },
      stop() {
        process.off('message', onMessage);
      },
    };
  }
  if (!cluster.isPrimary) return undefined;
  const broadcast = (message: CollectMessage) => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker === undefined || worker.process.pid === message.from || !worker.isConnected()) continue;
      worker.send(message, undefined, () => undefined);
    }
  };
  const onWorkerMessage = (_worker: unknown, message: unknown) => {
    if (isCollect(message)) broadcast(message);
  };
  cluster.on('message', onWorkerMessage);
  return {
    announce(reason) {
      broadcast({ [TAG]: 'collect', reason, from: process.pid });
    },
    stop() {
      cluster.off('message', onWorkerMessage);
    },
  };
}
