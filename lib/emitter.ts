/**
 * The machinery behind libvirt events: per-connection subscriptions and the EventEmitter
 * base class of {@link Connection}, {@link Domain}, {@link StoragePool} and {@link Secret}.
 *
 * How an event travels: libvirt calls a native callback on its event-loop thread; native
 * code copies the event and hands it to this environment's main thread through an unref'd
 * thread-safe function, tagged with the channel number chosen here; {@link dispatch}
 * finds the channel and hands the typed event to its subscribers. A subscriber leaves its
 * channel synchronously when its last listener goes, before libvirt is even told, so no
 * event can reach a listener after `off()`.
 *
 * Internal module: the public surface is the emitter methods and the event types
 * (lib/events.ts).
 */
import { EventEmitter, on as eventsOn } from 'node:events';
import { isMainThread } from 'node:worker_threads';
import { DomainEventID, ErrorDomain, ErrorNumber } from './constants';
import { LibvirtError, settle } from './errors';
import { native, type NativeConnect, type NativeHandle } from './native';

/** What native code hands over: plain fields and native handles, untyped. */
export type RawEvent = Record<string, unknown>;

/** One kind of event: which libvirt family and id, and how a raw event becomes typed. */
export interface EventSpec {
  family: 'domain' | 'pool' | 'secret' | 'close';
  id: number;
  convert(raw: RawEvent, hub: EventHub): unknown;
}

const CONTROL_ERROR: EventSpec = { family: 'domain', id: DomainEventID.VIR_DOMAIN_EVENT_ID_CONTROL_ERROR, convert: () => undefined };

const routes = new Map<number, (raw: RawEvent) => void>();
let nextChannel = 1;

/** @internal For bench/: sees every raw event first (it carries `raisedNs`, when libvirt
 * raised it on process.hrtime()'s clock). */
export const _eventProbe: { raw: ((raw: RawEvent) => void) | null } = { raw: null };

native.setEventDispatcher((channel: number, raw: RawEvent) => {
  _eventProbe.raw?.(raw);
  routes.get(channel)?.(raw);  // absent: the channel was given up; drop the event
}, !isMainThread);  // a worker's registrations are undone natively when it goes

/** What a listener-side subscription gets: when it is live, and how to give it up. */
export interface Subscription {
  /** Resolves once libvirt delivers this kind of event; rejects if it refused. */
  readonly ready: Promise<void>;
  /** Stops delivery at once; resolves once libvirt has been told (if it was the last). */
  release(): Promise<void>;
}

/**
 * One libvirt callback registration: one event kind, for one object or all of them. libvirt
 * refuses a second registration of the same callback for the same kind and object on one
 * connection, so every subscriber of that kind shares it; registrations and
 * deregistrations of one channel run one after the other.
 */
class Channel {
  readonly id = nextChannel++;
  readonly subscribers = new Set<(event: unknown) => void>();
  /** The registration the current subscribers wait for; null when none is made or wanted. */
  registered: Promise<void> | null = null;
  callbackId: number | null = null;
  /** The last registration or deregistration step; the next one starts after it. */
  chain: Promise<void> = Promise.resolve();

  constructor(
    readonly hub: EventHub,
    readonly spec: EventSpec,
    public object: NativeHandle | null,
    readonly key: string,
  ) {
    routes.set(this.id, (raw) => {
      if (this.subscribers.size === 0) return;
      const event = spec.convert(raw, hub);  // once, shared by every subscriber
      for (const deliver of [...this.subscribers]) if (this.subscribers.has(deliver)) deliver(event);
    });
  }

  subscribe(deliver: (event: unknown) => void): Subscription {
    this.subscribers.add(deliver);
    if (!this.registered) {
      const attempt = this.chain.then(async () => {
        this.callbackId = await this.hub._register(this.spec, this.object, this.id);
      });
      this.registered = attempt;
      this.chain = attempt.catch(() => {
        if (this.registered === attempt) this.registered = null;  // the next subscriber tries again
      });
    }
    const ready = this.registered;
    let released: Promise<void> | null = null;
    const release = () => (released ??= this.#unsubscribe(deliver));
    ready.catch(() => release());  // a refused subscriber is gone
    return { ready, release };
  }

  #unsubscribe(deliver: (event: unknown) => void): Promise<void> {
    this.subscribers.delete(deliver);
    if (this.subscribers.size > 0) return Promise.resolve();
    const step = this.chain.then(async () => {
      if (this.subscribers.size > 0) return;  // someone subscribed again meanwhile: keep it
      this.registered = null;  // from here on, a new subscriber registers anew (after this step)
      const callbackId = this.callbackId;
      this.callbackId = null;
      try {
        if (callbackId !== null) await this.hub._deregister(this.spec, callbackId);
      } finally {
        if (this.subscribers.size === 0 && this.registered === null) this.hub._forget(this);
      }
    });
    this.chain = step.catch(() => undefined);
    return step;
  }

  /** Drops every subscriber and the registration (the connection is closing). */
  releaseAll(): Promise<void> {
    const all = [...this.subscribers];
    return Promise.all(all.map((d) => this.#unsubscribe(d).catch(() => undefined))).then(() => this.chain);
  }
}

/**
 * The subscriptions of one connection. @internal Created by {@link Connection}; its
 * `wrap*` functions turn native handles carried by events into virtkit objects.
 */
export class EventHub {
  readonly #channels = new Map<string, Channel>();
  /** The anchor registration's callback id, once made (see {@link _register}). */
  #anchor: Promise<number | null> | null = null;
  /** Set once a `closed` event has been delivered. */
  closeReported = false;
  /** Set when close() starts: no new registration from then on. */
  #closing = false;
  /** The events() iterators over this connection's objects, ended when it closes. */
  readonly iterators = new Set<{ return?(): Promise<unknown> }>();

  constructor(
    private readonly conn: NativeConnect,
    private readonly uri: string,
    private readonly eventLoopAtOpen: boolean,
    readonly wrap: {
      domain(handle: unknown): unknown;
      pool(handle: unknown): unknown;
      secret(handle: unknown): unknown;
    },
  ) {}

  /** Subscribes `deliver` to one kind of event, of `object` (identified by `objectKey`, its
   * UUID) or of every object when both are null. */
  subscribe(spec: EventSpec, object: NativeHandle | null, objectKey: string | null, deliver: (event: unknown) => void): Subscription {
    const key = `${spec.family}:${spec.id}:${objectKey ?? '*'}`;
    let channel = this.#channels.get(key);
    if (!channel) {
      channel = new Channel(this, spec, object, key);
      this.#channels.set(key, channel);
    } else if (object) {
      channel.object = object;  // a later registration uses a handle that is surely alive
    }
    return channel.subscribe(deliver);
  }

  /** True when nothing was ever registered with libvirt (or everything was given up). */
  get idle(): boolean {
    return this.#channels.size === 0 && this.#anchor === null;
  }

  /** Gives up every subscription (before the connection closes: a registered callback
   * holds a reference that would keep it open). */
  async releaseAll(): Promise<void> {
    // Until nothing is left: a registration may finish while the others are given up.
    while (!this.idle) {
      await Promise.all([...this.#channels.values()].map((c) => c.releaseAll()));
      const anchor = this.#anchor;
      this.#anchor = null;
      const callbackId = anchor && (await anchor);
      if (callbackId !== null && callbackId !== undefined) await this._deregister(CONTROL_ERROR, callbackId).catch(() => undefined);
    }
  }

  /** The connection is closing (or gone): refuses new registrations, gives up the existing
   * ones and ends every events() iterator. */
  async shutdown(): Promise<void> {
    this.#closing = true;
    this.endIterators();
    await this.releaseAll();
  }

  /** Closes the native connection handle (for a Connection collected without close()). */
  closeHandle(): Promise<void> {
    return this.conn.close();
  }

  /** Ends every events() iterator (their queued events are still read first). */
  endIterators(): void {
    for (const it of [...this.iterators]) void it.return?.().catch(() => undefined);
    this.iterators.clear();
  }

  /** @internal */
  _forget(channel: Channel): void {
    if (this.#channels.get(channel.key) === channel) this.#channels.delete(channel.key);
    routes.delete(channel.id);
  }

  /** @internal */
  async _register(spec: EventSpec, object: NativeHandle | null, channel: number): Promise<number | null> {
    if (this.#closing || this.conn.isClosed()) {
      // A `closed` listener added while closing hears the close() itself: nothing to register.
      if (spec.family === 'close') return null;
      throw new LibvirtError({ code: ErrorNumber.VIR_ERR_INVALID_CONN, domain: ErrorDomain.VIR_FROM_EVENT, level: 2, message: 'the connection is closed' });
    }
    if (!native.eventLoopRunning() || !this.eventLoopAtOpen) {
      // In-process drivers (test:///) start their event timers when a callback registers;
      // a daemon connection must have been opened with the loop running to hear anything.
      if (!/^test:/i.test(this.uri)) {
        throw new LibvirtError({
          code: ErrorNumber.VIR_ERR_OPERATION_INVALID,
          domain: ErrorDomain.VIR_FROM_EVENT,
          level: 2,
          message: `events on ${this.uri} need libvirt's event loop from before the connection opened: connect with { events: true }`,
        });
      }
      native.startEventLoop();
    }
    // libvirt 9.0 bug worked around here: when the last callback of an event state is
    // deregistered while an event is being queued, that event is left queued with no timer,
    // and callbacks registered afterwards are not called until the state empties again (seen
    // on the test driver: a listener removed in the middle of a burst, then a new one, hears
    // nothing; the race is described in native/events.cc). So the first subscription also
    // registers an anchor that keeps the state non-empty until the connection closes: a
    // callback of its own, for the rare control-error event, delivering nothing. The test
    // driver's state shared by all test:///default connections gets a process-wide anchor
    // too (native/events.cc).
    this.#anchor ??= this.conn.domainEventRegisterAny(CONTROL_ERROR.id, null, 0).catch(() => null);
    await this.#anchor;
    const c = this.conn;
    switch (spec.family) {
      case 'domain':
        return settle(c.domainEventRegisterAny(spec.id, object, channel), 'Connection.domainEventRegisterAny');
      case 'pool':
        return settle(c.storagePoolEventRegisterAny(spec.id, object, channel), 'Connection.storagePoolEventRegisterAny');
      case 'secret':
        return settle(c.secretEventRegisterAny(spec.id, object, channel), 'Connection.secretEventRegisterAny');
      case 'close':
        await settle(c.registerCloseCallback(channel), 'Connection.registerCloseCallback');
        return 0;
    }
  }

  /** @internal */
  async _deregister(spec: EventSpec, callbackId: number): Promise<void> {
    if (this.conn.isClosed()) return;  // closing dropped every registration with it
    const c = this.conn;
    try {
      switch (spec.family) {
        case 'domain':
          return await c.domainEventDeregisterAny(callbackId);
        case 'pool':
          return await c.storagePoolEventDeregisterAny(callbackId);
        case 'secret':
          return await c.secretEventDeregisterAny(callbackId);
        case 'close':
          if (this.closeReported) return;  // libvirt dropped the callback when it called it
          return await c.unregisterCloseCallback();
      }
    } catch (err) {
      // A connection that died (EOF, keepalive) has nothing left to deregister from.
      if (err instanceof LibvirtError && (err.code === ErrorNumber.VIR_ERR_INVALID_CONN || err.domainName === 'VIR_FROM_RPC')) return;
      throw err;
    }
  }
}

// Iterators waiting in next(): while there are any, event delivery keeps the process alive.
let waiting = 0;
async function held<R>(wait: Promise<R>): Promise<R> {
  if (waiting++ === 0) native.holdEvents(true);
  try {
    return await wait;
  } finally {
    if (--waiting === 0) native.holdEvents(false);
  }
}

/** Options of {@link LibvirtEmitter.events}. */
export interface EventIteratorOptions {
  /** Ends the iteration (the iterator then rejects with an `AbortError`). */
  signal?: AbortSignal;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventArgs<T> = Record<keyof T, any[]>;

/**
 * An EventEmitter whose libvirt events are subscribed on demand: the first listener of an
 * event registers the libvirt callback (off the main thread), the last one removed
 * deregisters it. {@link eventsReady} tells when registrations have finished; a failed
 * registration is emitted as `'error'` when there is an `'error'` listener, otherwise it is
 * a process warning, and it rejects `eventsReady()`.
 */
export abstract class LibvirtEmitter<T extends EventArgs<T>> extends EventEmitter<T> {
  readonly #specs: Record<string, EventSpec>;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pending = new Set<Promise<void>>();
  #hub: EventHub | null;
  #object: NativeHandle | null;

  /** @internal */
  protected constructor(specs: Record<string, EventSpec>, hub: EventHub | null, object: NativeHandle | null) {
    super();
    this.#specs = specs;
    this.#hub = hub;
    this.#object = object;
  }

  /** @internal Called before a listener of `name` is added (see the prototype patch below). */
  _listenerAdding(name: string | symbol): void {
    if (typeof name === 'string' && Object.hasOwn(this.#specs, name) && !this.#subscriptions.has(name)) this.#subscribe(name);
  }

  /** @internal Called after listeners were removed. */
  _listenersRemoved(name?: string | symbol): void {
    const names = name === undefined ? [...this.#subscriptions.keys()] : typeof name === 'string' ? [name] : [];
    for (const n of names) if (this.#subscriptions.has(n) && this.listenerCount(n as never) === 0) this.#unsubscribe(n);
  }

  #subscribe(name: string): void {
    const spec = this.#specs[name];
    const hub = this.#hub;
    if (!hub) {
      this.#fail(new Error(`${this.constructor.name} objects obtained this way carry no connection to subscribe on; look the object up through its Connection`));
      return;
    }
    const emit = (ev: unknown) => (this as unknown as EventEmitter).emit(name, ev);
    const key = this.#object ? (this as unknown as { uuid: string }).uuid : null;
    const sub = hub.subscribe(spec, this.#object, key, emit);
    this.#subscriptions.set(name, sub);
    const tracked: Promise<void> = sub.ready.then(
      () => {
        this.#pending.delete(tracked);
      },
      (err: unknown) => {
        this.#pending.delete(tracked);
        if (this.#subscriptions.get(name) === sub) this.#subscriptions.delete(name);
        this.#fail(err);
        throw err;
      },
    );
    tracked.catch(() => undefined);  // reported through #fail and eventsReady()
    this.#pending.add(tracked);
  }

  #unsubscribe(name: string): void {
    const sub = this.#subscriptions.get(name);
    if (!sub) return;
    this.#subscriptions.delete(name);
    const done = sub.release().catch((err: unknown) => this.#fail(err));
    const tracked: Promise<void> = done.then(() => {
      this.#pending.delete(tracked);
    });
    this.#pending.add(tracked);
  }

  #fail(err: unknown): void {
    const e = this as unknown as EventEmitter;
    if (e.listenerCount('error') > 0) e.emit('error', err);
    else process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'VIRTKIT_EVENTS' });
  }

  /**
   * Resolves when every subscription started or ended so far has reached libvirt; rejects
   * with the first registration failure. Await it after `on()` when the events of an action
   * you are about to take must not be missed.
   */
  async eventsReady(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /**
   * The events of one name as an async iterator (subscribed at once; breaking out of the
   * loop, `return()` or the signal unsubscribes). While it waits for an event it keeps the
   * process alive, as a socket being read does; listeners added with `on()` do not.
   */
  events<K extends keyof T & string>(name: K, options?: EventIteratorOptions): AsyncIterableIterator<T[K][0]> {
    if (typeof name !== 'string' || !Object.hasOwn(this.#specs, name)) throw new TypeError(`unknown event ${typeof name === 'string' ? name : `(a ${typeof name})`}; one of ${Object.keys(this.#specs).join(', ')}`);
    const it = eventsOn(this as unknown as EventEmitter, name, options);
    const hub = this.#hub;
    const iterator: AsyncIterableIterator<T[K][0]> = {
      async next() {
        const r = await held(it.next());
        return r.done ? { done: true, value: undefined } : { done: false, value: (r.value as unknown[])[0] as T[K][0] };
      },
      async return() {
        hub?.iterators.delete(iterator);
        await it.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    hub?.iterators.add(iterator);
    return iterator;
  }
}

// Subscriptions follow the listeners: every way EventEmitter adds or removes one goes through
// these methods (once() and prependOnceListener() call on() and prependListener(); `off` is a
// separate reference to removeListener, so both are wrapped). No per-object hook listeners.
{
  const base = EventEmitter.prototype as unknown as Record<string, (this: LibvirtEmitter<never>, ...a: unknown[]) => unknown>;
  const proto = LibvirtEmitter.prototype as unknown as Record<string, unknown>;
  // Event names are strings (or symbols): anything else would reach V8's own conversion errors.
  const nameArg = (name: unknown, optional = false) => {
    if (typeof name === 'string' || typeof name === 'symbol' || (optional && name === undefined)) return;
    throw new TypeError('the event name must be a string or a symbol');
  };
  for (const m of ['on', 'addListener', 'prependListener']) {
    const original = base[m]!;
    proto[m] = function (this: LibvirtEmitter<never>, name: string | symbol, listener: unknown) {
      nameArg(name);
      if (typeof listener === 'function') this._listenerAdding(name);  // else EventEmitter throws
      return original.call(this, name, listener);
    };
  }
  for (const m of ['removeListener', 'off']) {
    const original = base[m]!;
    proto[m] = function (this: LibvirtEmitter<never>, name: string | symbol, listener: unknown) {
      nameArg(name);
      const r = original.call(this, name, listener);
      this._listenersRemoved(name);
      return r;
    };
  }
  const removeAll = base.removeAllListeners!;
  proto.removeAllListeners = function (this: LibvirtEmitter<never>, ...args: unknown[]) {
    nameArg(args[0], true);
    const r = removeAll.apply(this, args);
    this._listenersRemoved(args[0] as string | symbol | undefined);
    return r;
  };
}
