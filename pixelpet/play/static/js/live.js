// A small graphql-transport-ws client: one socket, its subscriptions, reconnecting with backoff.
// Messages: the graphql-ws project's PROTOCOL.md; close codes: decision 21 (pixelpet/graphql/close_codes.py).

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
// Client bugs: a new socket would be refused the same way (1009 message too big, 4406 no subprotocol, and
// strawberry's 4400/4401/4409/4429). Every other close is retried: 1012 restart, 1013 capacity, 4008 we
// stopped reading, 4408 init too late, 1006 the network; 4403 (token expired) is the caller's to handle.
const FATAL = new Set([1009, 4400, 4401, 4406, 4409, 4429]);
// Subscription endings worth subscribing again for: the database was away, or we subscribed too fast.
const RETRIED = new Set(["UNAVAILABLE", "RATE_LIMITED"]);

const backoff = (attempt) => RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
const jittered = (delay) => delay * (0.8 + Math.random() * 0.4); // clients restarted together spread out

export class LiveConnection {
  constructor(token, onState) {
    this.token = token;
    // ("connecting" | "reconnecting" | "offline" | "expired", detail). Being live is for the caller to
    // say, when its subscription delivers: a socket that is open may still carry nothing.
    this.onState = onState;
    this.subscriptions = new Map(); // operation id -> subscription (a new id for each attempt)
    this.nextId = 1;
    this.attempt = 0;
    this.closed = false;
    this.connect();
  }

  // next(data) for each result; error(error, retryInMs) when it ends with an error (retryInMs: when it
  // subscribes again by itself, or undefined if it will not).
  subscribe(query, variables, next, error) {
    const subscription = { query, variables, next, error, attempt: 0 };
    this.start(subscription);
    return () => {
      clearTimeout(subscription.retry);
      subscription.stopped = true;
      if (this.subscriptions.delete(subscription.id) && this.ready) this.send({ id: subscription.id, type: "complete" });
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    for (const subscription of this.subscriptions.values()) clearTimeout(subscription.retry);
    if (this.socket) this.socket.close(1000, "signed out");
  }

  start(subscription) {
    subscription.id = String(this.nextId++);
    subscription.failed = null;
    this.subscriptions.set(subscription.id, subscription);
    if (this.ready) this.send({ id: subscription.id, type: "subscribe", payload: { query: subscription.query, variables: subscription.variables } });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ready = false;
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    this.socket = socket;
    socket.onopen = () => this.send({ type: "connection_init", payload: { authorization: `Bearer ${this.token}` } });
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => this.lost(event.code, event.reason);
  }

  receive(message) {
    const subscription = this.subscriptions.get(message.id);
    switch (message.type) {
      case "connection_ack":
        this.ready = true;
        this.attempt = 0;
        // Subscribe everything again: after a reconnect the first message of each is the state as it is now.
        for (const [id, s] of this.subscriptions) {
          s.failed = null; // an ending whose `complete` the old socket never brought is moot now
          this.send({ id, type: "subscribe", payload: { query: s.query, variables: s.variables } });
        }
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (!subscription) break;
        // Errors at the root end the subscription: a `complete` follows, and decides what comes next.
        if (message.payload.errors) subscription.failed = message.payload.errors[0];
        else {
          subscription.attempt = 0;
          subscription.next(message.payload.data);
        }
        break;
      case "error": // refused before it started
        if (subscription) this.ended(subscription, message.payload[0]);
        break;
      case "complete":
        if (subscription) this.ended(subscription, subscription.failed);
        break;
    }
  }

  ended(subscription, failure) {
    this.subscriptions.delete(subscription.id);
    if (!failure) return;
    const extensions = failure.extensions || {};
    if (!RETRIED.has(extensions.code)) return subscription.error(failure);
    // Subscribing again later may work: with backoff, and no sooner than a rate limit asks.
    const delay = Math.max(jittered(backoff(subscription.attempt)), (extensions.retryAfterSeconds || 0) * 1000);
    subscription.attempt += 1;
    subscription.error(failure, delay);
    subscription.retry = setTimeout(() => { if (!subscription.stopped && !this.closed) this.start(subscription); }, delay);
  }

  lost(code, reason) {
    this.ready = false;
    if (this.closed) return;
    if (code === 4403) return this.onState("expired", "Your sign-in expired: sign in again.");
    if (FATAL.has(code)) return this.onState("offline", `The server refused the connection (${code} ${reason}).`);
    const delay = backoff(this.attempt);
    this.attempt += 1;
    this.onState("reconnecting", `Connection lost; reconnecting in ${Math.round(delay / 100) / 10} s…`);
    this.retry = setTimeout(() => this.connect(), jittered(delay));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
