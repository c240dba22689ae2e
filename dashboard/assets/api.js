// The jobs API, as any frontend would call it: same origin, JSON in, JSON or problem+json out.
import { QUERY_TIMEOUT_PROBLEM_TYPE } from "./contract.js";

/** An RFC 9457 problem from the API (or one made here when the API could not be reached). */
export class ApiProblem extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || "The request failed.");
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type;
    this.errors = problem.errors || {};
    this.requestId = problem.request_id;
  }

  /** The API could not be reached or failed itself (not a problem with the request). A
   * read the database stopped for taking too long is about the request: it says what to
   * change, and the service is fine. */
  get isOutage() {
    if (this.type === QUERY_TIMEOUT_PROBLEM_TYPE) return false;
    return this.status === 0 || this.status >= 500;
  }
}

function randomKey() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A fresh Idempotency-Key, so that a retried POST cannot create a job twice. */
export const newIdempotencyKey = randomKey;

async function problemFrom(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      return new ApiProblem(await response.json());
    } catch {
      // Not JSON after all: fall through to a problem made from the status line.
    }
  }
  return new ApiProblem({
    status: response.status,
    title: response.statusText || "Request failed",
    detail: `The server answered ${response.status}.`,
  });
}

// The Consistency-Token of this page's last write, sent with every read after it, so a
// person never sees their own change vanish whichever read instance answers.
let lastWriteToken = null;

/**
 * One request. Resolves to {status, etag, data, readOnly}; data is null for 204 and 304.
 * readOnly: the answer says `Service-Mode: read-only` (the primary database is away: a
 * standby answers reads, writes are refused). Rejects with an ApiProblem for every
 * 4xx/5xx and when the network fails.
 */
export async function request(method, path, { body, ifNoneMatch, ifMatch, idempotencyKey } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // With a validator set here, fetch bypasses the HTTP cache and hands us the 304 itself.
  if (ifNoneMatch) headers["If-None-Match"] = ifNoneMatch;
  if (ifMatch) headers["If-Match"] = ifMatch;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const read = method === "GET" || method === "HEAD";
  if (read && lastWriteToken) headers["Consistency-Token"] = lastWriteToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch {
    throw new ApiProblem({
      status: 0,
      title: "No connection",
      detail: "The jobs API could not be reached. Check the connection; the page retries.",
    });
  }
  if (!response.ok && response.status !== 304) throw await problemFrom(response);
  if (!read) lastWriteToken = response.headers.get("Consistency-Token") || lastWriteToken;
  const etag = response.headers.get("ETag");
  const readOnly = response.headers.get("Service-Mode") === "read-only";
  if (response.status === 204 || response.status === 304) {
    return { status: response.status, etag, data: null, readOnly };
  }
  return { status: response.status, etag, data: await response.json(), readOnly };
}

/**
 * A GET resource kept current by polling with If-None-Match: when nothing changed the API
 * answers 304 without a body and the last data is kept.
 */
export class ConditionalResource {
  constructor(path) {
    this.path = path;
    this.etag = null;
    this.data = null;
    this.readOnly = false; // the last answer's Service-Mode, a 304's included
  }

  /** Fetches; resolves to true when the data changed, false on a 304. */
  async refresh() {
    const path = this.path;
    const result = await request("GET", path, { ifNoneMatch: this.etag });
    this.readOnly = result.readOnly;
    if (path !== this.path) return false; // moved elsewhere while this was in flight
    if (result.status === 304) return false;
    this.etag = result.etag;
    this.data = result.data;
    return true;
  }

  /** Points the resource at another URL; the next refresh fetches it in full. */
  moveTo(path) {
    if (path === this.path) return;
    this.path = path;
    this.etag = null;
  }
}

/** The path and query of an API link (the API's next/previous links are absolute). */
export function pathOf(link) {
  if (!link) return null;
  const url = new URL(link, window.location.origin);
  return url.pathname + url.search;
}
