// A small graphql-transport-ws client: one socket, many subscriptions, reconnecting with backoff.
// Messages and close codes: the graphql-ws project's PROTOCOL.md (what the server implements).

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
const FATAL = new Set([4400, 4401, 4403, 4406, 4409, 4429]); // a new socket would be refused the same way

export class LiveConnection {
  constructor(token, onState) {
    this.token = token;
    this.onState = onState; // ("connecting" | "live" | "reconnecting" | "offline", detail)
    this.subscriptions = new Map(); // id -> {query, variables, next, error}
    this.nextId = 1;
    this.attempt = 0;
    this.closed = false;
    this.connect();
  }

  subscribe(query, variables, next, error) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, next, error });
    if (this.ready) this.send({ id, type: "subscribe", payload: { query, variables } });
    return () => {
      if (this.subscriptions.delete(id) && this.ready) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.socket) this.socket.close(1000, "signed out");
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
        this.onState("live");
        // Resubscribe everything: after a reconnect the first message of each is the pet as it is now.
        for (const [id, s] of this.subscriptions) {
          this.send({ id, type: "subscribe", payload: { query: s.query, variables: s.variables } });
        }
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (!subscription) break;
        if (message.payload.errors) subscription.error(message.payload.errors[0]);
        else subscription.next(message.payload.data);
        break;
      case "error":
        if (subscription) subscription.error(message.payload[0]);
        this.subscriptions.delete(message.id);
        break;
      case "complete":
        this.subscriptions.delete(message.id);
        break;
    }
  }

  lost(code, reason) {
    this.ready = false;
    if (this.closed) return;
    if (code === 4403) return this.onState("offline", "Your sign-in expired: sign in again.");
    if (FATAL.has(code)) return this.onState("offline", `The server refused the connection (${code} ${reason}).`);
    const delay = RETRY_DELAYS_MS[Math.min(this.attempt, RETRY_DELAYS_MS.length - 1)];
    this.attempt += 1;
    this.onState("reconnecting", `Connection lost; reconnecting in ${Math.round(delay / 100) / 10} s…`);
    this.retry = setTimeout(() => this.connect(), delay * (0.8 + Math.random() * 0.4));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
