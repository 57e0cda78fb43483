/**
 * LiveDataHub: the socket.io side of the live server. One room per stream (`stream:<id>`); a client joins it
 * with `subscribe`. Each attached RecordSource (a StreamRuntime) is fanned out to its room:
 *  - every record as a volatile `faces` (socket.io drops it for a client whose transport is still busy, so a
 *    slow client loses only its own frames and never slows the pipeline or the other clients);
 *  - the latest groups at most every `groupsIntervalMs` (default 500 ms), normal emit;
 *  - status, normal emit: a state change at the next tick, counter changes at most once a second.
 * No work is done for a stream whose room is empty. Client payloads are validated (protocol.ts); a malformed
 * one gets an error ack (or is dropped when there is no ack to call) and never reaches the rest of the server.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { InvalidStateError } from '../core/errors.js';
import type { FrameRecord, GroupRecord } from '../core/records.js';
import { Logger } from '../core/log.js';
import type { StreamInfo, StreamStatus } from '../server/service.js';
import type { FacecastEvent } from '../events/event.js';
import {
  StreamIdSchema,
  frameSummary,
  streamRoom,
  type Ack,
  type AckResult,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from './protocol.js';

const log = new Logger('LiveDataHub');

/** What the hub needs from a stream's runtime: its records. StreamRuntime satisfies it as is. */
export interface RecordSource {
  on(event: 'record', listener: (record: FrameRecord) => void): unknown;
  off(event: 'record', listener: (record: FrameRecord) => void): unknown;
}

/** Where the hub reads the stream list and each stream's status (StreamRegistry satisfies it). */
export interface StreamDirectory {
  list(): StreamInfo[];
  get(id: string): StreamInfo | undefined;
}

export interface LiveDataHubOptions {
  directory: StreamDirectory;
  /** socket.io CORS settings; off by default, since the dashboard is served from the same origin. */
  cors?: ServerOptions['cors'];
  /** Period of `groups` per stream, ms (default 500: about twice a second). */
  groupsIntervalMs?: number;
  /**
   * Viewer auth of a handshake (client `auth` payload, e.g. `{ token }`, and its headers); a refused client gets
   * `connect_error` "unauthorized". Default: everyone.
   */
  authorize?: (auth: unknown, headers: IncomingHttpHeaders) => boolean;
  /** Whether a handshake's Origin may connect (WebSockets bypass CORS). Default: every origin. */
  allowOrigin?: (req: IncomingMessage) => boolean;
  /**
   * Cluster mode: subscribers of a stream on the other instances (their sockets get this instance's emits
   * through the socket.io Redis adapter), so a stream is sent while anyone anywhere watches. Default: none.
   */
  remoteSubscribers?: (streamId: string) => number;
}

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Counters for metrics and tests. */
export interface LiveDataStats {
  sockets: number;
  streams: number;
  /** `faces` emits (one per record with at least one subscriber). */
  framesSent: number;
  groupsSent: number;
  statusSent: number;
  /** Client payloads rejected by validation. */
  badPayloads: number;
}

interface Attached {
  source: RecordSource;
  listener: (record: FrameRecord) => void;
  /** Groups of the latest record not yet sent; undefined once sent. */
  pendingGroups: GroupRecord[] | undefined;
  lastGroups: GroupRecord[];
  lastStatus: StreamStatus | undefined;
}

/** Client payloads are tiny; a bigger one is refused by engine.io (the client is disconnected). */
const MAX_PAYLOAD_BYTES = 16 * 1024;

export class LiveDataHub implements AsyncDisposable {
  readonly io: LiveServer;
  readonly #directory: StreamDirectory;
  readonly #remoteSubscribers: (streamId: string) => number;
  readonly #streams = new Map<string, Attached>();
  readonly #timer: NodeJS.Timeout;
  readonly #stats = { framesSent: 0, groupsSent: 0, statusSent: 0, badPayloads: 0 };
  #ticks = 0;
  #closing: Promise<void> | undefined;

  constructor(server: HttpServer, options: LiveDataHubOptions) {
    if (typeof options?.directory?.list !== 'function') throw new TypeError('LiveDataHub: options.directory must have list() and get()');
    const groupsMs = options.groupsIntervalMs ?? 500;
    if (!(groupsMs >= 10)) throw new TypeError('LiveDataHub: options.groupsIntervalMs must be >= 10');
    this.#directory = options.directory;
    this.#remoteSubscribers = options.remoteSubscribers ?? (() => 0);
    this.io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(server, {
      path: '/socket.io',
      serveClient: true, // /socket.io/socket.io.esm.min.js for the dashboard: no CDN
      maxHttpBufferSize: MAX_PAYLOAD_BYTES,
      // The hub cannot detach from an http.Server it does not own, so after close() it refuses handshakes.
      // A refused Origin (cross-site WebSocket hijacking) is answered 403 before any socket exists.
      allowRequest: (req, cb) => {
        if (this.closed) return cb(null, false);
        if (options.allowOrigin && !options.allowOrigin(req)) return cb('origin not allowed', false);
        cb(null, true);
      },
      ...(options.cors ? { cors: options.cors } : {}),
    });
    const authorize = options.authorize;
    if (authorize) {
      this.io.use((socket, next) => {
        if (authorize(socket.handshake.auth, socket.handshake.headers)) return next();
        log.debug(`handshake refused [socket:${socket.id}]: no valid viewer token`);
        next(Object.assign(new Error('unauthorized'), { data: { code: 'E_UNAUTHORIZED', message: 'a viewer token is needed: io({ auth: { token } })' } }));
      });
    }
    this.io.on('connection', (socket) => this.#onConnection(socket));
    this.#timer = setInterval(() => this.#tick(), groupsMs).unref();
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): LiveDataStats {
    return { sockets: this.io.of('/').sockets.size, streams: this.#streams.size, ...this.#stats };
  }

  /** Forwards a stream's records to its room; re-attaching an id (runtime restart) replaces the old source. */
  attachStream(id: string, source: RecordSource): void {
    if (this.closed) throw new InvalidStateError('LiveDataHub is closed');
    if (!StreamIdSchema.safeParse(id).success) throw new TypeError(`LiveDataHub.attachStream: invalid stream id ${JSON.stringify(id)}`);
    if (typeof source?.on !== 'function' || typeof source.off !== 'function') throw new TypeError('LiveDataHub.attachStream: source must have on() and off()');
    const previous = this.#streams.get(id);
    if (previous) previous.source.off('record', previous.listener);
    const entry: Attached = { source, listener: (r) => this.#onRecord(id, entry, r), pendingGroups: undefined, lastGroups: previous?.lastGroups ?? [], lastStatus: previous?.lastStatus };
    source.on('record', entry.listener);
    this.#streams.set(id, entry);
    if (!previous) this.notifyStreams();
  }

  /** Stops forwarding a stream; returns whether it was attached. Subscribers stay in the room (it may come back). */
  detachStream(id: string): boolean {
    const entry = this.#streams.get(id);
    if (!entry) return false;
    entry.source.off('record', entry.listener);
    this.#streams.delete(id);
    if (!this.closed) this.notifyStreams();
    return true;
  }

  /** Sends the stream list to every client; call it when streams are added, removed or renamed. */
  notifyStreams(): void {
    if (this.closed) return;
    this.io.emit('streams', this.#directory.list());
  }

  /** Sends an event of the event rules to every client (through the adapter in cluster mode: its stream runs here only). */
  emitEvent(event: FacecastEvent): void {
    if (this.closed) return;
    this.io.emit('event', event);
  }

  /** Detaches every source, disconnects every client, closes engine.io. Leaves the http.Server to its owner. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      for (const id of [...this.#streams.keys()]) this.detachStream(id);
      this.io.disconnectSockets(true);
      this.io.engine.close();
      log.debug(`close() [frames:${this.#stats.framesSent}, groups:${this.#stats.groupsSent}]`);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** socket.io clients subscribed to a stream (for metrics: its viewers over socket.io). */
  subscriberCount(id: string): number {
    return this.#subscribers(id);
  }

  /** socket.io clients of this instance subscribed to each stream (rooms are per instance, adapter or not). */
  localSubscriberCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [room, sockets] of this.io.of('/').adapter.rooms) if (room.startsWith('stream:') && sockets.size > 0) out.set(room.slice('stream:'.length), sockets.size);
    return out;
  }

  #subscribers(id: string): number {
    return (this.io.of('/').adapter.rooms.get(streamRoom(id))?.size ?? 0) + this.#remoteSubscribers(id);
  }

  #onRecord(id: string, entry: Attached, record: FrameRecord): void {
    entry.lastGroups = record.groups;
    if (this.#subscribers(id) === 0) return;
    entry.pendingGroups = record.groups;
    this.io.to(streamRoom(id)).volatile.emit('faces', id, frameSummary(record));
    this.#stats.framesSent++;
  }

  /** Groups of every stream with news; status on a state change, or every second on any change. */
  #tick(): void {
    const fullSecond = ++this.#ticks % 2 === 0;
    for (const [id, entry] of this.#streams) {
      if (this.#subscribers(id) === 0) continue;
      if (entry.pendingGroups) {
        this.io.to(streamRoom(id)).emit('groups', id, entry.pendingGroups);
        entry.pendingGroups = undefined;
        this.#stats.groupsSent++;
      }
      const status = this.#directory.get(id)?.status;
      if (!status) continue;
      const prev = entry.lastStatus;
      const changed = !prev || prev.state !== status.state || prev.lastError !== status.lastError || (fullSecond && JSON.stringify(prev) !== JSON.stringify(status));
      if (!changed) continue;
      entry.lastStatus = status;
      this.io.to(streamRoom(id)).emit('status', { id, status });
      this.#stats.statusSent++;
    }
  }

  #onConnection(socket: LiveSocket): void {
    socket.data.subscriptions = new Set();
    socket.emit('streams', this.#directory.list());
    // Arguments typed `unknown`: whatever the typed map says, a client can send anything.
    socket.on('subscribe', (...args: unknown[]) => {
      const [id] = args;
      const reply = lastAck(args);
      if (!reply) return this.#rejected(socket, 'subscribe without an ack');
      const r = StreamIdSchema.safeParse(id);
      if (!r.success) return this.#fail(socket, reply, 'E_VALIDATION', `subscribe: ${r.error.issues[0]?.message ?? 'invalid stream id'}`);
      if (this.closed) return reply({ ok: false, error: { code: 'E_CLOSED', message: 'server shutting down' } });
      const info = this.#directory.get(r.data);
      if (!info && !this.#streams.has(r.data)) return reply({ ok: false, error: { code: 'E_NOT_FOUND', message: `stream "${r.data}" not found` } });
      void socket.join(streamRoom(r.data));
      socket.data.subscriptions.add(r.data);
      reply({ ok: true });
      // The current state at once, so a new card does not wait for the next tick.
      if (info) socket.emit('status', { id: r.data, status: info.status });
      const groups = this.#streams.get(r.data)?.lastGroups;
      if (groups?.length) socket.emit('groups', r.data, groups);
    });
    socket.on('unsubscribe', (...args: unknown[]) => {
      const [id] = args;
      const reply = lastAck(args) ?? (() => undefined);
      const r = StreamIdSchema.safeParse(id);
      if (!r.success) return this.#fail(socket, reply, 'E_VALIDATION', 'unsubscribe: invalid stream id');
      void socket.leave(streamRoom(r.data));
      socket.data.subscriptions.delete(r.data);
      reply({ ok: true });
    });
  }

  #fail(socket: LiveSocket, reply: Ack, code: 'E_VALIDATION', message: string): void {
    this.#rejected(socket, message);
    reply({ ok: false, error: { code, message } });
  }

  #rejected(socket: LiveSocket, why: string): void {
    this.#stats.badPayloads++;
    log.debug(`rejected [socket:${socket.id}] ${why}`);
  }
}

/** socket.io passes the ack as the last argument, wherever the client put it (`emit('subscribe', ack)` too). */
function lastAck(args: unknown[]): Ack | undefined {
  const v = args[args.length - 1];
  return typeof v === 'function' ? (r: AckResult) => void (v as Ack)(r) : undefined;
}
