// Rendering: DOM built with textContent only, so no name from the API is ever parsed as HTML.
import { STATUSES } from "./contract.js";

const STATUS_LABELS = {
  PENDING: "Pending",
  RUNNING: "Running",
  COMPLETED: "Completed",
  FAILED: "Failed",
};
// A shape per status as well as a colour, so colour is never the only signal.
const STATUS_SYMBOLS = { PENDING: "○", RUNNING: "▶", COMPLETED: "✓", FAILED: "✕" };

// The exact time, in UTC: what the API, the logs and a colleague in another zone all say
// (docs/decisions.md, "The dashboard"). en-GB for day-month-year with a named month and a
// 24-hour clock, which no reader can take for another date.
const exactFormat = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZone: "UTC",
  timeZoneName: "short",
});
const dayFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const numberFormat = new Intl.NumberFormat();

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

export function formatNumber(value) {
  return numberFormat.format(value);
}

function element(tag, { className, text, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

export function badge(status) {
  return element("span", { className: `badge badge-${status.toLowerCase()}` }, [
    element("span", { className: "badge-symbol", text: STATUS_SYMBOLS[status] || "", attributes: { "aria-hidden": "true" } }),
    element("span", { text: statusLabel(status) }),
  ]);
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Beyond this a count of days says less than the date itself.
const RELATIVE_DAYS = 30;

/** "30 Nov 2026, 14:05:09 UTC". */
export function formatExact(iso) {
  return exactFormat.format(new Date(iso));
}

const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

/**
 * A time as seen from `now`, in the largest whole unit: "just now" (under 10 s, or ahead
 * of this clock), "45 s ago", "3 min ago", "2 h ago", "yesterday", "3 days ago", and the
 * date itself after 30 days.
 */
export function formatRelative(iso, now = Date.now()) {
  const seconds = (now - Date.parse(iso)) / 1000;
  if (seconds < 10) return "just now";
  if (seconds < MINUTE) return `${Math.floor(seconds)} s ago`;
  if (seconds < HOUR) return `${Math.floor(seconds / MINUTE)} min ago`;
  if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h ago`;
  const days = Math.floor(seconds / DAY);
  if (days === 1) return "yesterday";
  if (days <= RELATIVE_DAYS) return `${days} days ago`;
  return dayFormat.format(new Date(iso));
}

/**
 * A length of time in its two largest whole units: "< 1 s", "45 s", "2 min 5 s",
 * "1 h 3 min", "3 days 4 h" (a zero second unit is left out: "2 min", "1 day").
 */
export function formatDuration(totalSeconds) {
  if (totalSeconds < 1) return "< 1 s";
  const seconds = Math.floor(totalSeconds);
  const pair = (big, small) => (small ? `${big} ${small}` : big);
  if (seconds < MINUTE) return `${seconds} s`;
  if (seconds < HOUR) {
    return pair(`${Math.floor(seconds / MINUTE)} min`, seconds % MINUTE ? `${seconds % MINUTE} s` : "");
  }
  if (seconds < DAY) {
    const minutes = Math.floor((seconds % HOUR) / MINUTE);
    return pair(`${Math.floor(seconds / HOUR)} h`, minutes ? `${minutes} min` : "");
  }
  const hours = Math.floor((seconds % DAY) / HOUR);
  return pair(plural(Math.floor(seconds / DAY), "day", "days"), hours ? `${hours} h` : "");
}

const elapsedSince = (iso, now) => (now - Date.parse(iso)) / 1000;

/**
 * A time relative to now ("3 min ago") in a <time>; its title (on hover) and the text a
 * screen reader reads after it give the exact time, with a four-digit year and the zone.
 * updateTimes() keeps the relative part current.
 */
export function timeElement(iso, now = Date.now()) {
  const exact = formatExact(iso);
  return element("time", { className: "relative", attributes: { datetime: iso, title: exact } }, [
    element("span", { className: "relative-text", text: formatRelative(iso, now) }),
    element("span", { className: "visually-hidden", text: ` (${exact})` }),
  ]);
}

const elapsedText = (span, now) =>
  [span.dataset.prefix, formatDuration(elapsedSince(span.dataset.since, now)), span.dataset.suffix]
    .filter(Boolean)
    .join(" ");

/** "running for 2 h 14 min", "2 h 14 min so far": the time since `iso` between a prefix
 * and a suffix; updateTimes() keeps it current. */
function elapsedElement(iso, now, { prefix = "", suffix = "" }) {
  const span = element("span", {
    className: "elapsed",
    attributes: { "data-since": iso, "data-prefix": prefix, "data-suffix": suffix },
  });
  span.textContent = elapsedText(span, now);
  return span;
}

/**
 * Re-says every relative time and running duration under `root` as of `now`: each poll
 * calls it, so "3 min ago" moves on even when the data did not change (a 304). Only text
 * changes, so focus and the rest of the page stay as they are.
 */
export function updateTimes(root, now = Date.now()) {
  for (const time of root.querySelectorAll("time.relative")) {
    const text = formatRelative(time.getAttribute("datetime"), now);
    const node = time.querySelector(".relative-text");
    if (node.textContent !== text) node.textContent = text;
  }
  for (const span of root.querySelectorAll(".elapsed[data-since]")) {
    const text = elapsedText(span, now);
    if (span.textContent !== text) span.textContent = text;
  }
}

/** The status checkboxes of the filter form, built once. */
export function renderStatusOptions(container) {
  container.replaceChildren(
    ...STATUSES.map((status) => {
      const id = `filter-${status.toLowerCase()}`;
      return element("div", { className: "status-option" }, [
        element("input", { attributes: { type: "checkbox", id, name: "status", value: status } }),
        element("label", { attributes: { for: id } }, [badge(status)]),
      ]);
    }),
  );
}

/** The tiles: all jobs, then one per status; the one matching the filter is pressed. */
export function renderTiles(list, summary, selectedStatuses) {
  const selected = selectedStatuses.length === 1 ? selectedStatuses[0] : selectedStatuses.length === 0 ? "" : null;
  const tile = (status, count, label) =>
    element("li", {}, [
      element(
        "button",
        {
          className: status ? `tile tile-${status.toLowerCase()}` : "tile",
          attributes: { type: "button", "data-status": status, "aria-pressed": String(selected === status) },
        },
        [
          element("span", { className: "tile-count", text: formatNumber(count) }),
          element("span", { className: "tile-label" }, status ? [badge(status)] : [document.createTextNode(label)]),
        ],
      ),
    ]);
  list.replaceChildren(
    tile("", summary.total, "All jobs"),
    ...STATUSES.map((status) => tile(status, summary.by_status[status] ?? 0, statusLabel(status))),
  );
  list.setAttribute("aria-busy", "false");
}

/** The rows of the jobs table; each name links to `addressOf(id)`, its panel's address. */
export function renderRows(tbody, jobs, addressOf, now = Date.now()) {
  tbody.replaceChildren(
    ...jobs.map((job) =>
      element("tr", { attributes: { "data-job-id": String(job.id) } }, [
        element("td", { className: "cell-name", attributes: { "data-label": "Name" } }, [
          element("a", {
            className: "open-job",
            text: job.name,
            attributes: { href: addressOf(job.id), "data-job-id": String(job.id), "data-action": "open" },
          }),
        ]),
        element("td", { attributes: { "data-label": "Status" } }, [badge(job.current_status_type)]),
        element("td", { attributes: { "data-label": "Status time" } }, [timeElement(job.current_status_timestamp, now)]),
        element("td", { attributes: { "data-label": "Created" } }, [timeElement(job.created_at, now)]),
      ]),
    ),
  );
}

/** Marks a row whose status just changed: a class for the look, and a word, so the
 * highlight is not colour alone. */
export function markChanged(row, changed) {
  row.classList.toggle("changed", changed);
  const mark = row.querySelector(".changed-mark");
  if (changed && !mark) {
    row.querySelector('td[data-label="Status"]').append(element("span", { className: "changed-mark", text: "changed" }));
  } else if (!changed) {
    mark?.remove();
  }
}

/** The facts of the job panel. */
export function renderFacts(dl, job, now = Date.now()) {
  const fact = (term, ...values) => [element("dt", { text: term }), element("dd", {}, values)];
  const status = [badge(job.current_status_type)];
  if (job.current_status_type === "RUNNING") {
    status.push(document.createTextNode(" "), elapsedElement(job.current_status_timestamp, now, { prefix: "running for" }));
  }
  dl.replaceChildren(
    ...fact("Id", document.createTextNode(String(job.id))),
    ...fact("Status", ...status),
    ...fact("Status time", timeElement(job.current_status_timestamp, now)),
    ...fact("Created", timeElement(job.created_at, now)),
    ...fact("Updated", timeElement(job.updated_at, now)),
  );
}

export function renderAppendButtons(container) {
  container.replaceChildren(
    ...STATUSES.map((status) =>
      element("button", { className: "secondary", attributes: { type: "button", "data-status": status } }, [
        badge(status),
      ]),
    ),
  );
}

/** Marks the button of the job's current status (`aria-current` and a visible word); none
 * when `status` is null. */
export function markCurrentStatus(container, status) {
  for (const button of container.querySelectorAll("button[data-status]")) {
    const current = button.dataset.status === status;
    button.querySelector(".current-mark")?.remove();
    if (current) {
      button.setAttribute("aria-current", "true");
      button.append(element("span", { className: "current-mark", text: "current" }));
    } else {
      button.removeAttribute("aria-current");
    }
  }
}

/** History events, each with how long the job stayed in it (the current one: so far);
 * `append` keeps the ones already shown (for "Older events"). */
export function renderHistory(list, events, { append = false, now = Date.now() } = {}) {
  const items = events.map((event) =>
    element("li", { attributes: { "data-event-id": String(event.id) } }, [
      badge(event.status_type),
      document.createTextNode(" "),
      timeElement(event.timestamp, now),
      document.createTextNode(" "),
      event.duration_seconds === null
        ? elapsedElement(event.timestamp, now, { suffix: "so far" })
        : element("span", { className: "duration", text: `for ${formatDuration(event.duration_seconds)}` }),
    ]),
  );
  if (append) list.append(...items);
  else list.replaceChildren(...items);
}

/** A field's problem shown next to it, and announced by the input's description. */
export function showFieldError(input, errorElement, messages) {
  errorElement.textContent = messages.join(" ");
  errorElement.hidden = false;
  input.setAttribute("aria-invalid", "true");
}

export function clearFieldError(input, errorElement) {
  errorElement.textContent = "";
  errorElement.hidden = true;
  input.removeAttribute("aria-invalid");
}

export function showAlert(node, message) {
  if (node.textContent !== message) node.textContent = message;
  node.hidden = false;
}

export function clearAlert(node) {
  node.textContent = "";
  node.hidden = true;
}

/** A problem as one sentence a person can act on. */
export function problemMessage(problem) {
  const reference = problem.requestId ? ` (reference ${problem.requestId})` : "";
  if (problem.status === 429) return `Too many requests; the page slows down and retries.${reference}`;
  if (problem.isOutage) {
    return `${problem.detail || "The service is unavailable."}${reference}`;
  }
  return `${problem.detail || problem.title}${reference}`;
}
