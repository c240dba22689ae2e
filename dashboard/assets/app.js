// The jobs dashboard: state in the URL, data from the public API, kept current by polling
// with conditional requests (a 304 carries no body when nothing changed).
import { ApiProblem, ConditionalResource, newIdempotencyKey, pathOf, request } from "./api.js";
import { CHART_PRESETS, refreshChart } from "./chart.js";
import { CURSOR_ORDERINGS, MAX_OFFSET, STATUSES } from "./contract.js";
import {
  clearAlert,
  clearFieldError,
  formatExact,
  formatNumber,
  markChanged,
  markCurrentStatus,
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
// How long a row whose status a poll found changed stays highlighted.
const CHANGE_HIGHLIGHT_MS = 3000;
const TITLE = document.title;

const $ = (id) => document.getElementById(id);

// The time window's presets: a length back from now, made a bound anew on every read, so
// the window slides. A custom range is two fixed instants, entered and shown in UTC.
// The same presets as the chart's: one window, listed and charted.
const WINDOW_PRESETS = CHART_PRESETS;
const WINDOW_FIELDS = { status: "status_changed", created: "created" }; // window_on -> the API's prefix
const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

// What the address bar may ask for: the columns index.html lets the table sort by, and the
// page sizes it offers.
const ORDERINGS = new Set([...document.querySelectorAll("th[data-ordering]")].map((th) => th.dataset.ordering));
const PAGE_SIZES = new Set([...$("page-size").options].map((option) => Number(option.value)));

const state = {
  statuses: [],
  search: "",
  ordering: DEFAULT_ORDERING,
  limit: DEFAULT_LIMIT,
  // The page shown: the cursor or offset of a next/previous link the API gave; null is
  // the first page.
  pagePosition: null, // {name: "cursor" | "offset", value}
  pageNumber: 1,
  jobId: null, // the job in the panel
  window: "", // a WINDOW_PRESETS name, "custom" (from/to below) or "" for any time
  windowOn: "status", // "status" (the current status's time) or "created"
  from: "", // a custom range's bounds: "2026-11-30T19:00:00Z", or "" for open
  to: "",
};

// A job's resource (GET, PATCH, DELETE); its history is below it.
const jobPath = (jobId) => `/api/jobs/${jobId}/`;

const summary = new ConditionalResource("/api/jobs/summary/");
const list = new ConditionalResource(firstPagePath());
let job = null; // ConditionalResource of the panel's job
let history = null; // ConditionalResource of the first page of its history
let olderHistoryPath = null;
let panelGone = null; // "deleted" or "not-found" once the panel's job answered 404
let pendingCreate = null; // {name, key}: a failed POST is retried with the same key
let pollMs = DEFAULT_POLL_MS;
// What the rows said at the last render of this view, to see which changed: the view
// (its address without the open job) and each job's status event.
let seenView = null;
let seenStatuses = new Map(); // job id -> "<status>@<status time>"
const highlightedUntil = new Map(); // job id -> time the highlight ends
// New failures while the tab is hidden: the FAILED count's rises seen by the polls.
let failedSeen = null;
let failuresWhileHidden = 0;
let pollTimer = null;

// What the last poll learnt about the API, shown by showConnection(): whether every read
// answered, and whether any said `Service-Mode: read-only` (the primary database away, a
// standby answering). A write refused with a 503 while reads answer means the same on a
// stack that does not send the header; as nothing will say when that ends, it holds for
// WRITE_REFUSAL_HOLD_MS, after which the next write simply tries again.
const WRITE_REFUSAL_HOLD_MS = 30_000;
const connection = { readsOk: true, readOnlyByHeader: false, writeRefusedAt: null };
let readOnlyShown = false;

/** The list page shown: the first page's query with the page's position, if any. */
function listPath() {
  const path = firstPagePath();
  const position = state.pagePosition;
  return position ? `${path}&${new URLSearchParams({ [position.name]: position.value })}` : path;
}

/** Where an API next/previous link points: its cursor or offset (none: the first page). */
function positionOf(link) {
  const params = new URLSearchParams(link.split("?")[1] || "");
  for (const name of ["cursor", "offset"]) {
    if (params.get(name)) return { name, value: params.get(name) };
  }
  return null;
}

function firstPagePath() {
  const params = new URLSearchParams({ limit: String(state.limit), ordering: state.ordering });
  if (state.statuses.length) params.set("status", state.statuses.join(","));
  if (state.search) params.set("search", state.search);
  const field = WINDOW_FIELDS[state.windowOn];
  if (state.window in WINDOW_PRESETS) {
    params.set(`${field}_after`, new Date(Date.now() - WINDOW_PRESETS[state.window]).toISOString());
  } else if (state.window === "custom") {
    if (state.from) params.set(`${field}_after`, state.from);
    if (state.to) params.set(`${field}_before`, state.to);
  }
  // Keyset (cursor) pages where the API has them: orderings whose keys never change.
  if (CURSOR_ORDERINGS.includes(state.ordering)) params.set("pagination", "cursor");
  return `/api/jobs/?${params}`;
}

// --- state <-> address bar -------------------------------------------------------------

// Every view change (filters, sort, page, the open job) is an entry of the browser's
// history, so Back and Forward walk them; the address bar holds the whole view, so a
// reload or a shared link shows it again.
function readLocation() {
  const params = new URLSearchParams(window.location.search);
  const statuses = (params.get("status") || "").split(",").filter((s) => STATUSES.includes(s));
  state.statuses = [...new Set(statuses)];
  state.search = params.get("search") || "";
  const ordering = params.get("ordering") || DEFAULT_ORDERING;
  state.ordering = ORDERINGS.has(ordering.replace(/^-/, "")) ? ordering : DEFAULT_ORDERING;
  const limit = Number(params.get("limit"));
  state.limit = PAGE_SIZES.has(limit) ? limit : DEFAULT_LIMIT;
  state.pagePosition = positionOf(`?${params}`);
  const pageNumber = Number(params.get("page"));
  state.pageNumber = state.pagePosition && Number.isInteger(pageNumber) && pageNumber > 1 ? pageNumber : 1;
  const jobId = Number(params.get("job"));
  state.jobId = Number.isInteger(jobId) && jobId > 0 ? jobId : null;
  readWindow(params);
  const poll = Number(params.get("poll"));
  if (Number.isFinite(poll) && poll >= 250) pollMs = poll;
}

/** The window from the address: a preset's name, or a custom range of UTC instants (an
 * empty or backwards range is ignored: the form says what is wrong with one typed in). */
function readWindow(params) {
  const preset = params.get("window") || "";
  const from = UTC_INSTANT.test(params.get("from") || "") ? params.get("from") : "";
  const to = UTC_INSTANT.test(params.get("to") || "") ? params.get("to") : "";
  state.windowOn = params.get("window_on") in WINDOW_FIELDS ? params.get("window_on") : "status";
  state.from = state.to = "";
  if (preset in WINDOW_PRESETS) state.window = preset;
  else if ((from || to) && !(from && to && to <= from)) Object.assign(state, { window: "custom", from, to });
  else state.window = "";
}

/** The address of the current view with `changes` applied (a value of null removes). */
function viewAddress(changes = {}) {
  const params = new URLSearchParams(window.location.search);
  const set = (name, value, fallback) =>
    value && value !== fallback ? params.set(name, value) : params.delete(name);
  set("status", state.statuses.join(","), "");
  set("search", state.search, "");
  set("ordering", state.ordering, DEFAULT_ORDERING);
  set("limit", String(state.limit), String(DEFAULT_LIMIT));
  for (const name of ["cursor", "offset"]) params.delete(name);
  if (state.pagePosition) params.set(state.pagePosition.name, state.pagePosition.value);
  set("page", state.pagePosition ? String(state.pageNumber) : "", "1");
  set("job", state.jobId ? String(state.jobId) : "", "");
  set("window", state.window in WINDOW_PRESETS ? state.window : "", "");
  set("window_on", state.window ? state.windowOn : "", "");
  set("from", state.window === "custom" ? state.from : "", "");
  set("to", state.window === "custom" ? state.to : "", "");
  for (const [name, value] of Object.entries(changes)) set(name, value, "");
  const query = params.toString();
  return query ? `?${query}` : window.location.pathname;
}

/** The address that opens a job's panel over the current view. */
const jobAddress = (jobId) => viewAddress({ job: String(jobId) });

/** The view changed: a new history entry (`push`), or the current one corrected. */
function writeLocation({ push = true } = {}) {
  const address = viewAddress();
  if (address === (window.location.search || window.location.pathname)) return;
  if (push) window.history.pushState(null, "", address);
  else window.history.replaceState(null, "", address);
  refreshChart(); // the chart follows the window in the address (a 304 when it did not move)
  // Job links (rows, "Created …") open the job over the view now shown.
  for (const link of document.querySelectorAll("a.open-job")) {
    link.href = jobAddress(link.dataset.jobId);
  }
}

/** Back or Forward: show the view the address bar now holds. */
function showLocation() {
  const shownJobId = job ? state.jobId : null;
  readLocation();
  clearFieldError($("search"), $("search-error"));
  list.moveTo(listPath());
  syncControls();
  refreshList();
  refreshChart();
  if (summary.data) renderTiles($("tiles"), summary.data, state.statuses);
  if (state.jobId && state.jobId !== shownJobId) openPanel(state.jobId, { focus: false, push: false });
  else if (!state.jobId && shownJobId) closePanel({ push: false });
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
  $("window").value = state.window;
  $("window-on").value = state.windowOn;
  $("custom-range").hidden = state.window !== "custom";
  $("window-from").value = state.from.slice(0, 19);
  $("window-to").value = state.to.slice(0, 19);
  clearFieldError($("window-to"), $("window-error"));
  const filters = [];
  if (state.statuses.length) filters.push(state.statuses.map(statusLabel).join(" or "));
  if (state.search) filters.push(`matching “${state.search}”`);
  if (state.window) filters.push(windowWords());
  $("jobs-heading").textContent = filters.length ? `Jobs: ${filters.join(", ")}` : "All jobs";
}

/** The window in the jobs heading: "status changed in the last 1 h". */
function windowWords() {
  const what = state.windowOn === "created" ? "created" : "status changed";
  if (state.window !== "custom") return `${what} in the ${$("window").selectedOptions[0].text.toLowerCase()}`;
  const bounds = [state.from && `from ${formatExact(state.from)}`, state.to && `before ${formatExact(state.to)}`];
  return `${what} ${bounds.filter(Boolean).join(" ")}`;
}

/** A datetime-local value ("2026-11-30T19:00", seconds optional), read as UTC. */
function utcInstant(value) {
  return value ? `${value.length === 16 ? `${value}:00` : value.slice(0, 19)}Z` : "";
}

/** "Apply range": a custom range from the two inputs; a backwards or empty one is a form
 * error and is not sent. */
function applyCustomRange() {
  const from = utcInstant($("window-from").value);
  const to = utcInstant($("window-to").value);
  const error = !from && !to ? "Give a start, an end or both." : from && to && to <= from ? "The end must be after the start." : "";
  if (error) {
    showFieldError($("window-to"), $("window-error"), [error]);
    $("window-to").focus();
    return;
  }
  Object.assign(state, { window: "custom", from, to });
  filtersChanged();
}

/** Filters, search, sort or page size changed: back to the first page. */
function filtersChanged() {
  state.pagePosition = null;
  state.pageNumber = 1;
  clearFieldError($("search"), $("search-error"));
  list.moveTo(listPath());
  syncControls();
  writeLocation();
  refreshList();
  if (summary.data) renderTiles($("tiles"), summary.data, state.statuses);
}

function goToPage(link, pageNumber) {
  state.pagePosition = link ? positionOf(link) : null;
  state.pageNumber = state.pagePosition ? pageNumber : 1;
  list.moveTo(listPath());
  writeLocation();
  refreshList({ focusTable: true });
}

/** Rows of the same view whose status event differs from the last render's are highlighted
 * for a moment (a new row, or another view, is no change). */
function noteChangedRows(jobs) {
  const view = viewAddress({ job: null });
  const statuses = new Map(jobs.map((item) => [item.id, `${item.current_status_type}@${item.current_status_timestamp}`]));
  if (view === seenView) {
    const until = Date.now() + CHANGE_HIGHLIGHT_MS;
    for (const [jobId, status] of statuses) {
      if (seenStatuses.has(jobId) && seenStatuses.get(jobId) !== status) {
        highlightedUntil.set(jobId, until);
        setTimeout(showHighlights, CHANGE_HIGHLIGHT_MS);
      }
    }
  }
  seenView = view;
  seenStatuses = statuses;
}

/** The `changed` class and word on the rows highlighted now; off the ones whose time is up. */
function showHighlights() {
  const now = Date.now();
  for (const [jobId, until] of highlightedUntil) {
    if (until <= now) highlightedUntil.delete(jobId);
  }
  for (const row of document.querySelectorAll("#jobs-body tr")) {
    markChanged(row, highlightedUntil.has(Number(row.dataset.jobId)));
  }
}

/** The tab's title while it is hidden: "(3) Jobs" for three new failures. */
function showTitle() {
  document.title = failuresWhileHidden ? `(${failuresWhileHidden}) ${TITLE}` : TITLE;
}

/** A summary arrived: a rise of the FAILED count while hidden is that many new failures. */
function noteFailures(failed) {
  if (document.hidden && failedSeen !== null && failed > failedSeen) {
    failuresWhileHidden += failed - failedSeen;
    showTitle();
  }
  failedSeen = failed;
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
  noteChangedRows(page.results);
  renderRows($("jobs-body"), page.results, jobAddress);
  showHighlights();
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
  // A preset window slides: its bound is now minus its length at every read (a new
  // address, so such a list is read in full rather than revalidated).
  list.moveTo(listPath());
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
    if (await summary.refresh()) {
      renderTiles($("tiles"), summary.data, state.statuses);
      noteFailures(summary.data.by_status.FAILED ?? 0);
    }
    return true;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    return !problem.isOutage;
  }
}

// --- the job panel -------------------------------------------------------------------------

function openPanel(jobId, { focus = true, push = true } = {}) {
  state.jobId = jobId;
  job = new ConditionalResource(jobPath(jobId));
  panelGone = null;
  history = new ConditionalResource(`${jobPath(jobId)}statuses/?pagination=cursor&limit=${DEFAULT_LIMIT}`);
  olderHistoryPath = null;
  $("panel").hidden = false;
  $("panel-heading").textContent = `Job ${jobId}`;
  $("panel-facts").replaceChildren();
  $("history").replaceChildren();
  $("history-more").hidden = true;
  clearAlert($("panel-error"));
  syncPanelButtons();
  writeLocation({ push });
  refreshPanel().then(() => {
    if (focus) $("panel-heading").focus();
  });
}

function closePanel({ push = true } = {}) {
  const jobId = state.jobId;
  state.jobId = null;
  job = history = null;
  $("panel").hidden = true;
  writeLocation({ push });
  document.querySelector(`#jobs-body [data-job-id="${jobId}"][data-action="open"]`)?.focus();
}

/** The panel's buttons: none once the job is gone; the current status's is disabled, as
 * appending the status a job already has is almost always a slip (the API allows it). */
function syncPanelButtons() {
  const current = panelGone ? null : job?.data?.current_status_type;
  const focused = document.activeElement;
  markCurrentStatus($("append-buttons"), current);
  for (const button of document.querySelectorAll("#append-buttons button")) {
    button.disabled = Boolean(panelGone) || button.dataset.status === current;
  }
  $("delete-job").disabled = Boolean(panelGone);
  // The button just pressed is now the current status's, disabled: focus would drop to the
  // page's start, and Escape would no longer reach the panel.
  if (focused?.disabled && $("panel").contains(focused)) $("panel-heading").focus();
}

/** The panel's job is not there (a 404): say why, and offer nothing more to do with it. A
 * job this panel has shown was deleted meanwhile; one it never could show, say from an
 * old or mistyped address, was not found (the API answers both with the same 404). */
function showJobGone() {
  panelGone = job?.data ? "deleted" : "not-found";
  const message =
    panelGone === "deleted"
      ? "This job no longer exists: it was deleted."
      : `Job ${state.jobId} was not found: there is no job with this id.`;
  showAlert($("panel-error"), message);
  syncPanelButtons();
  $("history-more").hidden = true;
}

function renderJob() {
  const data = job.data;
  $("panel-heading").textContent = data.name;
  renderFacts($("panel-facts"), data);
  syncPanelButtons();
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

/** A link to a job's panel: a plain click opens it in place, a Ctrl- or middle click in
 * a new tab (the browser's own handling of the href). */
function jobLink(jobId, text) {
  const link = document.createElement("a");
  link.href = jobAddress(jobId);
  link.className = "open-job";
  link.dataset.jobId = String(jobId);
  link.dataset.action = "open";
  link.textContent = text;
  return link;
}

/** A plain click on a job link (no modifier key): open the panel without leaving the page. */
function openFromLink(event) {
  const link = event.target.closest('a[data-action="open"]');
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  openPanel(Number(link.dataset.jobId));
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
    // No history entry that would open the deleted job again.
    if (state.jobId === jobId) closePanel({ push: false });
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

/** The form folds away until asked for, so the table starts near the top of the screen. */
function setCreateExpanded(expanded) {
  $("create").hidden = !expanded;
  $("new-job").setAttribute("aria-expanded", String(expanded));
  (expanded ? $("create-name") : $("new-job")).focus();
}

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
    // A link to the new job, which the current filter may well hide from the table.
    const link = jobLink(data.id, `Show job ${data.id}`);
    message.replaceChildren(`Created “${data.name}” (job ${data.id}). `, link);
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
const WRITE_CONTROLS = '#create-form button[type="submit"], #append-buttons button, #delete-job';

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
  if (document.hidden) {
    // Hidden, only the summary (mostly a 304): its FAILED count is what the title reports.
    await refreshSummary();
  } else {
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
  $("new-job").addEventListener("click", () => setCreateExpanded($("new-job").getAttribute("aria-expanded") !== "true"));
  $("create-form").addEventListener("submit", createJob);
  $("create-form").addEventListener("keydown", (event) => {
    if (event.key === "Escape") setCreateExpanded(false);
  });

  const applySearch = () => {
    const value = $("search").value;
    if (value === state.search) return;
    state.search = value;
    filtersChanged();
  };
  $("search").addEventListener("input", debounce(applySearch, SEARCH_DEBOUNCE_MS));
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  // Enter applies what was typed: with the range's inputs the form has several text-like
  // fields, and then the browser no longer submits it on Enter.
  $("filters").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target.tagName !== "INPUT" || event.target.type === "checkbox") return;
    event.preventDefault();
    if ($("custom-range").contains(event.target)) applyCustomRange();
    else applySearch();
  });
  $("status-options").addEventListener("change", () => {
    state.statuses = [...document.querySelectorAll('#status-options input[name="status"]:checked')].map(
      (box) => box.value,
    );
    filtersChanged();
  });
  $("window").addEventListener("change", () => {
    const chosen = $("window").value;
    if (chosen === "custom") {
      // Nothing changes until a range is applied.
      $("custom-range").hidden = false;
      $("window-from").focus();
      return;
    }
    Object.assign(state, { window: chosen, from: "", to: "" });
    filtersChanged();
  });
  $("window-on").addEventListener("change", () => {
    state.windowOn = $("window-on").value;
    if (state.window) filtersChanged();
  });
  $("window-apply").addEventListener("click", applyCustomRange);
  $("recent-failures").addEventListener("click", () => {
    Object.assign(state, {
      statuses: ["FAILED"],
      search: "",
      window: "24h",
      windowOn: "status",
      from: "",
      to: "",
      ordering: "-current_status_timestamp",
    });
    filtersChanged();
    $("jobs-heading").focus();
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

  $("next-page").addEventListener("click", () => goToPage(list.data.next, state.pageNumber + 1));
  $("previous-page").addEventListener("click", () =>
    goToPage(list.data.previous, Math.max(1, state.pageNumber - 1)),
  );
  $("first-page").addEventListener("click", () => goToPage(null, 1));

  $("jobs-body").addEventListener("click", openFromLink);
  $("create-message").addEventListener("click", openFromLink);
  window.addEventListener("popstate", showLocation);

  $("panel-close").addEventListener("click", () => closePanel());
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
    if (document.hidden) return;
    failuresWhileHidden = 0;
    showTitle();
    poll();
  });
}

function start() {
  readLocation();
  renderStatusOptions($("status-options"));
  renderAppendButtons($("append-buttons"));
  syncControls();
  list.moveTo(listPath());
  wire();
  // What the address asked for, minus what the page does not offer.
  writeLocation({ push: false });
  if (state.jobId) openPanel(state.jobId, { focus: false, push: false });
  poll();
}

start();
