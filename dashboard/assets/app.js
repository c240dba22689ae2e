// The jobs dashboard: state in the URL, data from the public API, kept current by polling
// with conditional requests (a 304 carries no body when nothing changed).
import { ApiProblem, ConditionalResource, newIdempotencyKey, pathOf, request } from "./api.js";
import { refreshChart } from "./chart.js";
import { CURSOR_ORDERINGS, MAX_OFFSET, STATUSES } from "./contract.js";
import {
  clearAlert,
  clearFieldError,
  formatNumber,
  problemMessage,
  renderAppendButtons,
  renderFacts,
  renderHistory,
  renderRows,
  renderStatusOptions,
  renderTiles,
  showAlert,
  showFieldError,
  statusLabel,
  updateTimes,
} from "./views.js";

const DEFAULT_ORDERING = "-created_at";
const DEFAULT_LIMIT = 20;
const DEFAULT_POLL_MS = 5000;
const SEARCH_DEBOUNCE_MS = 300;

const $ = (id) => document.getElementById(id);

// What the address bar may ask for: the columns index.html lets the table sort by, and the
// page sizes it offers.
const ORDERINGS = new Set([...document.querySelectorAll("th[data-ordering]")].map((th) => th.dataset.ordering));
const PAGE_SIZES = new Set([...$("page-size").options].map((option) => Number(option.value)));

const state = {
  statuses: [],
  search: "",
  ordering: DEFAULT_ORDERING,
  limit: DEFAULT_LIMIT,
  pagePath: null, // a next/previous link being shown; null is the first page
  pageNumber: 1,
  jobId: null, // the job in the panel
};

// A job's resource (GET, PATCH, DELETE); its history is below it.
const jobPath = (jobId) => `/api/jobs/${jobId}/`;

const summary = new ConditionalResource("/api/jobs/summary/");
const list = new ConditionalResource(firstPagePath());
let job = null; // ConditionalResource of the panel's job
let history = null; // ConditionalResource of the first page of its history
let olderHistoryPath = null;
let pendingCreate = null; // {name, key}: a failed POST is retried with the same key
let pollMs = DEFAULT_POLL_MS;
let pollTimer = null;

// What the last poll learnt about the API, shown by showConnection(): whether every read
// answered, and whether any said `Service-Mode: read-only` (the primary database away, a
// standby answering). A write refused with a 503 while reads answer means the same on a
// stack that does not send the header; as nothing will say when that ends, it holds for
// WRITE_REFUSAL_HOLD_MS, after which the next write simply tries again.
const WRITE_REFUSAL_HOLD_MS = 30_000;
const connection = { readsOk: true, readOnlyByHeader: false, writeRefusedAt: null };
let readOnlyShown = false;

function firstPagePath() {
  const params = new URLSearchParams({ limit: String(state.limit), ordering: state.ordering });
  if (state.statuses.length) params.set("status", state.statuses.join(","));
  if (state.search) params.set("search", state.search);
  // Keyset (cursor) pages where the API has them: orderings whose keys never change.
  if (CURSOR_ORDERINGS.includes(state.ordering)) params.set("pagination", "cursor");
  return `/api/jobs/?${params}`;
}

// --- state <-> address bar -------------------------------------------------------------

function readLocation() {
  const params = new URLSearchParams(window.location.search);
  const statuses = (params.get("status") || "").split(",").filter((s) => STATUSES.includes(s));
  state.statuses = [...new Set(statuses)];
  state.search = params.get("search") || "";
  const ordering = params.get("ordering") || DEFAULT_ORDERING;
  if (ORDERINGS.has(ordering.replace(/^-/, ""))) state.ordering = ordering;
  const limit = Number(params.get("limit"));
  if (PAGE_SIZES.has(limit)) state.limit = limit;
  const jobId = Number(params.get("job"));
  state.jobId = Number.isInteger(jobId) && jobId > 0 ? jobId : null;
  const poll = Number(params.get("poll"));
  if (Number.isFinite(poll) && poll >= 250) pollMs = poll;
}

function writeLocation() {
  const params = new URLSearchParams(window.location.search);
  const set = (name, value, fallback) =>
    value && value !== fallback ? params.set(name, value) : params.delete(name);
  set("status", state.statuses.join(","), "");
  set("search", state.search, "");
  set("ordering", state.ordering, DEFAULT_ORDERING);
  set("limit", String(state.limit), String(DEFAULT_LIMIT));
  set("job", state.jobId ? String(state.jobId) : "", "");
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

// --- the list ------------------------------------------------------------------------------

function syncControls() {
  $("search").value = state.search;
  $("page-size").value = String(state.limit);
  for (const box of document.querySelectorAll('#status-options input[name="status"]')) {
    box.checked = state.statuses.includes(box.value);
  }
  const field = state.ordering.replace(/^-/, "");
  for (const header of document.querySelectorAll("th[data-ordering]")) {
    const sorted = header.dataset.ordering === field;
    header.setAttribute(
      "aria-sort",
      sorted ? (state.ordering.startsWith("-") ? "descending" : "ascending") : "none",
    );
  }
  const filters = [];
  if (state.statuses.length) filters.push(state.statuses.map(statusLabel).join(" or "));
  if (state.search) filters.push(`matching “${state.search}”`);
  $("jobs-heading").textContent = filters.length ? `Jobs: ${filters.join(", ")}` : "All jobs";
}

/** Filters, search, sort or page size changed: back to the first page. */
function filtersChanged() {
  state.pagePath = null;
  state.pageNumber = 1;
  clearFieldError($("search"), $("search-error"));
  list.moveTo(firstPagePath());
  syncControls();
  writeLocation();
  refreshList();
  if (summary.data) renderTiles($("tiles"), summary.data, state.statuses);
}

function goToPage(path, pageNumber) {
  state.pagePath = path;
  state.pageNumber = pageNumber;
  list.moveTo(path || firstPagePath());
  refreshList({ focusTable: true });
}

function offsetOf(path) {
  return Number(new URLSearchParams(path.split("?")[1] || "").get("offset") || 0);
}

function renderList() {
  const page = list.data;
  const active = document.activeElement;
  const focused = active?.dataset?.jobId
    ? { jobId: active.dataset.jobId, action: active.dataset.action }
    : null;
  renderRows($("jobs-body"), page.results);
  syncWriteControls();
  if (focused) {
    // A poll re-rendered the rows: keep keyboard focus where it was.
    document
      .querySelector(`#jobs-body [data-job-id="${focused.jobId}"][data-action="${focused.action}"]`)
      ?.focus();
  }
  $("empty").hidden = page.results.length > 0;
  const next = pathOf(page.next);
  const tooDeep = next && !CURSOR_ORDERINGS.includes(state.ordering) && offsetOf(next) > MAX_OFFSET;
  $("next-page").disabled = !next || tooDeep;
  $("previous-page").disabled = !page.previous;
  $("first-page").disabled = state.pageNumber === 1 && !page.previous;
  const first = (state.pageNumber - 1) * state.limit + 1;
  const last = first + page.results.length - 1;
  const total = page.count_exact === false ? `over ${formatNumber(page.count)}` : formatNumber(page.count);
  let info = page.results.length ? `${formatNumber(first)}–${formatNumber(last)} of ${total}` : `0 of ${total}`;
  if (tooDeep) info += `. Sort by Created to page further than ${formatNumber(MAX_OFFSET)} jobs.`;
  $("page-info").textContent = info;
}

async function refreshList({ focusTable = false } = {}) {
  try {
    const changed = await list.refresh();
    clearAlert($("list-error"));
    if (changed) renderList();
    if (focusTable) $("jobs-heading").focus();
    return true;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    const searchErrors = problem.errors.search;
    if (searchErrors) showFieldError($("search"), $("search-error"), searchErrors);
    else showAlert($("list-error"), problemMessage(problem));
    return !problem.isOutage;
  }
}

async function refreshSummary() {
  try {
    if (await summary.refresh()) renderTiles($("tiles"), summary.data, state.statuses);
    return true;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    return !problem.isOutage;
  }
}

// --- the job panel -------------------------------------------------------------------------

function openPanel(jobId, { focus = true } = {}) {
  state.jobId = jobId;
  job = new ConditionalResource(jobPath(jobId));
  history = new ConditionalResource(`${jobPath(jobId)}statuses/?pagination=cursor&limit=${DEFAULT_LIMIT}`);
  olderHistoryPath = null;
  $("panel").hidden = false;
  $("panel-heading").textContent = `Job ${jobId}`;
  $("panel-facts").replaceChildren();
  $("history").replaceChildren();
  $("history-more").hidden = true;
  clearAlert($("panel-error"));
  setPanelEnabled(true);
  writeLocation();
  refreshPanel().then(() => {
    if (focus) $("panel-heading").focus();
  });
}

function closePanel() {
  const jobId = state.jobId;
  state.jobId = null;
  job = history = null;
  $("panel").hidden = true;
  writeLocation();
  document.querySelector(`#jobs-body [data-job-id="${jobId}"][data-action="open"]`)?.focus();
}

function setPanelEnabled(enabled) {
  for (const button of document.querySelectorAll("#append-buttons button, #delete-job")) {
    button.disabled = !enabled;
  }
}

/** The panel's job was deleted meanwhile: say so, and offer nothing more to do with it. */
function showJobGone() {
  showAlert($("panel-error"), "This job no longer exists: it was deleted.");
  setPanelEnabled(false);
  $("history-more").hidden = true;
}

function renderJob() {
  const data = job.data;
  $("panel-heading").textContent = data.name;
  renderFacts($("panel-facts"), data);
}

async function refreshPanel() {
  if (!job) return true;
  const current = job;
  try {
    const [jobChanged, historyChanged] = await Promise.all([job.refresh(), history.refresh()]);
    if (current !== job) return true;
    if (jobChanged) renderJob();
    if (historyChanged) {
      renderHistory($("history"), history.data.results);
      olderHistoryPath = pathOf(history.data.next);
      $("history-more").hidden = !olderHistoryPath;
    }
    return true;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    // The panel was closed or moved to another job meanwhile (e.g. this one was deleted
    // from the page while a poll was reading it): the answer concerns nothing shown.
    if (current !== job) return true;
    if (problem.status === 404) {
      showJobGone();
      return true;
    }
    showAlert($("panel-error"), problemMessage(problem));
    return !problem.isOutage;
  }
}

async function loadOlderHistory() {
  if (!olderHistoryPath) return;
  try {
    const { data } = await request("GET", olderHistoryPath);
    renderHistory($("history"), data.results, { append: true });
    olderHistoryPath = pathOf(data.next);
    $("history-more").hidden = !olderHistoryPath;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    showAlert($("panel-error"), problemMessage(problem));
  }
}

async function appendStatus(statusType) {
  if (!job?.data) return;
  clearAlert($("panel-error"));
  if (readOnlyShown) {
    showAlert($("panel-error"), notSaved("Not changed", "choose again once changes are possible"));
    return;
  }
  try {
    // If-Match: only if nobody changed the job since this panel last saw it.
    const result = await request("PATCH", job.path, {
      body: { status_type: statusType },
      ifMatch: job.etag,
    });
    job.data = result.data;
    job.etag = result.etag;
    writeAccepted();
    renderJob();
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    if (writeRefused(problem)) {
      showAlert($("panel-error"), notSaved("Not changed", "choose again once changes are possible"));
    } else if (problem.status === 412) {
      showAlert(
        $("panel-error"),
        "Someone else changed this job meanwhile. It now shows its latest state; choose again.",
      );
    } else if (problem.status === 404) {
      showJobGone();
    } else {
      showAlert($("panel-error"), problemMessage(problem));
    }
  }
  await Promise.all([refreshPanel(), refreshList(), refreshSummary()]);
}

// --- delete --------------------------------------------------------------------------------

function confirmDelete(jobId, name) {
  if (readOnlyShown) {
    showDeleteRefused(jobId, name);
    return;
  }
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = `“${name}” and its whole history will be deleted. This cannot be undone.`;
  const opener = document.activeElement;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue === "delete") deleteJob(jobId, name);
      else opener?.focus();
    },
    { once: true },
  );
  dialog.showModal();
}

function showDeleteRefused(jobId, name) {
  const target = state.jobId === jobId ? $("panel-error") : $("list-error");
  showAlert(target, notSaved(`“${name}” was not deleted`, "delete it again once changes are possible"));
}

async function deleteJob(jobId, name) {
  const message = $("create-message");
  if (readOnlyShown) {
    showDeleteRefused(jobId, name);
    return;
  }
  try {
    await request("DELETE", jobPath(jobId));
    writeAccepted();
    message.textContent = `Deleted “${name}”.`;
    if (state.jobId === jobId) closePanel();
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    const target = state.jobId === jobId ? $("panel-error") : $("list-error");
    if (writeRefused(problem)) showDeleteRefused(jobId, name);
    else showAlert(target, problem.status === 404 ? `“${name}” was already deleted.` : problemMessage(problem));
  }
  await Promise.all([refreshList(), refreshSummary()]);
  $("jobs-heading").focus();
}

// --- create --------------------------------------------------------------------------------

async function createJob(event) {
  event.preventDefault();
  const input = $("create-name");
  const message = $("create-message");
  const name = input.value;
  clearFieldError(input, $("create-name-error"));
  message.textContent = "";
  message.classList.remove("error");
  if (readOnlyShown) {
    // Not sent: the input stays as typed, and the form says why.
    message.textContent = notSaved("Not saved", "your entry is kept; create it once changes are possible");
    message.classList.add("error");
    return;
  }
  if (!pendingCreate || pendingCreate.name !== name) {
    pendingCreate = { name, key: newIdempotencyKey() };
  }
  try {
    const { data } = await request("POST", "/api/jobs/", {
      body: { name },
      idempotencyKey: pendingCreate.key,
    });
    pendingCreate = null;
    writeAccepted();
    input.value = "";
    message.textContent = `Created “${data.name}” (job ${data.id}).`;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    // A rejected body will be rejected again: the next attempt is a new request.
    if (problem.status >= 400 && problem.status < 500 && problem.status !== 409) pendingCreate = null;
    if (writeRefused(problem)) {
      message.textContent = notSaved("Not saved", "your entry is kept; create it once changes are possible");
      message.classList.add("error");
    } else if (problem.errors.name) {
      showFieldError(input, $("create-name-error"), problem.errors.name);
      input.focus();
    } else {
      message.textContent = problemMessage(problem);
      message.classList.add("error");
    }
    return;
  }
  await Promise.all([refreshList(), refreshSummary()]);
}

// --- connection and read-only mode ---------------------------------------------------------

const CONNECTION_PROBLEM = "Connection problem: showing the last data received; retrying.";
const READ_ONLY =
  "Read-only: the jobs database is taking no changes right now. " +
  "Showing current data; changes are possible again once it is back.";

/** Why a change was not made, for the place it was asked from. */
function notSaved(what, next) {
  return `${what}: the jobs database is taking no changes right now (read-only); ${next}.`;
}

// The controls that change jobs. In read-only mode they stay focusable (so a keyboard or
// screen reader user finds them and hears why they do nothing) but are aria-disabled and
// described by the status line; their handlers refuse and say so.
const WRITE_CONTROLS =
  '#create-form button[type="submit"], #append-buttons button, #delete-job, #jobs-body button[data-action="delete"]';

function syncWriteControls() {
  for (const control of document.querySelectorAll(WRITE_CONTROLS)) {
    if (readOnlyShown) {
      control.setAttribute("aria-disabled", "true");
      control.setAttribute("aria-describedby", "connection");
    } else {
      control.removeAttribute("aria-disabled");
      control.removeAttribute("aria-describedby");
    }
  }
}

function isReadOnly() {
  if (!connection.readsOk) return false; // reads failing too: a connection problem
  if (connection.readOnlyByHeader) return true;
  const refusedAt = connection.writeRefusedAt;
  return refusedAt !== null && Date.now() - refusedAt < WRITE_REFUSAL_HOLD_MS;
}

/** The status line at the top and the write controls, from what is known now. */
function showConnection() {
  readOnlyShown = isReadOnly();
  const text = !connection.readsOk ? CONNECTION_PROBLEM : readOnlyShown ? READ_ONLY : "";
  if ($("connection").textContent !== text) $("connection").textContent = text;
  document.body.classList.toggle("offline", !connection.readsOk);
  document.body.classList.toggle("read-only", readOnlyShown);
  syncWriteControls();
}

/** A write answered 503 (the command service cannot write) while the reads answer: the page
 * is read-only now, and this returns true. Any other problem, a 503 while the reads fail
 * too included (that is a connection problem), is the caller's to show. */
function writeRefused(problem) {
  if (problem.status !== 503) return false;
  connection.writeRefusedAt = Date.now();
  showConnection();
  return readOnlyShown;
}

/** A write went through: whatever refused writes before is over. */
function writeAccepted() {
  connection.writeRefusedAt = null;
  showConnection();
}

// --- polling -------------------------------------------------------------------------------

async function poll() {
  clearTimeout(pollTimer);
  if (!document.hidden) {
    const results = await Promise.all([refreshSummary(), refreshList(), refreshPanel(), refreshChart()]);
    // "3 min ago" moves on even when nothing changed and nothing was re-rendered.
    updateTimes(document.body);
    connection.readsOk = results.every(Boolean);
    if (connection.readsOk) {
      const readOnly = [summary, list, job].some((resource) => resource?.readOnly);
      // The header gone: the API says the primary is back, so a refused write is over too.
      if (connection.readOnlyByHeader && !readOnly) connection.writeRefusedAt = null;
      connection.readOnlyByHeader = readOnly;
    }
    showConnection();
  }
  pollTimer = setTimeout(poll, pollMs);
}

// --- wiring --------------------------------------------------------------------------------

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function wire() {
  $("create-form").addEventListener("submit", createJob);

  const applySearch = () => {
    const value = $("search").value;
    if (value === state.search) return;
    state.search = value;
    filtersChanged();
  };
  $("search").addEventListener("input", debounce(applySearch, SEARCH_DEBOUNCE_MS));
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    applySearch();
  });
  $("status-options").addEventListener("change", () => {
    state.statuses = [...document.querySelectorAll('#status-options input[name="status"]:checked')].map(
      (box) => box.value,
    );
    filtersChanged();
  });
  $("page-size").addEventListener("change", () => {
    state.limit = Number($("page-size").value);
    filtersChanged();
  });
  $("tiles").addEventListener("click", (event) => {
    const tile = event.target.closest("button[data-status]");
    if (!tile) return;
    const status = tile.dataset.status;
    const alreadyOnly = state.statuses.length === 1 && state.statuses[0] === status;
    state.statuses = status && !alreadyOnly ? [status] : [];
    filtersChanged();
  });
  for (const header of document.querySelectorAll("th[data-ordering]")) {
    header.querySelector("button").addEventListener("click", () => {
      const field = header.dataset.ordering;
      const current = state.ordering.replace(/^-/, "");
      if (current === field) {
        state.ordering = state.ordering.startsWith("-") ? field : `-${field}`;
      } else {
        state.ordering = field === "name" ? field : `-${field}`;
      }
      filtersChanged();
    });
  }

  $("next-page").addEventListener("click", () => goToPage(pathOf(list.data.next), state.pageNumber + 1));
  $("previous-page").addEventListener("click", () =>
    goToPage(pathOf(list.data.previous), Math.max(1, state.pageNumber - 1)),
  );
  $("first-page").addEventListener("click", () => goToPage(null, 1));

  $("jobs-body").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const jobId = Number(button.dataset.jobId);
    if (button.dataset.action === "open") openPanel(jobId);
    else if (button.dataset.action === "delete") {
      const row = list.data.results.find((item) => item.id === jobId);
      confirmDelete(jobId, row ? row.name : `job ${jobId}`);
    }
  });

  $("panel-close").addEventListener("click", closePanel);
  $("panel").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanel();
  });
  $("append-buttons").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-status]");
    if (button) appendStatus(button.dataset.status);
  });
  $("history-more").addEventListener("click", loadOlderHistory);
  $("delete-job").addEventListener("click", () => {
    if (job?.data) confirmDelete(job.data.id, job.data.name);
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
}

function start() {
  readLocation();
  renderStatusOptions($("status-options"));
  renderAppendButtons($("append-buttons"));
  syncControls();
  list.moveTo(firstPagePath());
  wire();
  if (state.jobId) openPanel(state.jobId, { focus: false });
  poll();
}

start();
