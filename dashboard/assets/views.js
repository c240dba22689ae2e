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

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
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

export function timeElement(iso) {
  return element("time", {
    text: dateFormat.format(new Date(iso)),
    attributes: { datetime: iso, title: iso },
  });
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

/** The rows of the jobs table. */
export function renderRows(tbody, jobs) {
  tbody.replaceChildren(
    ...jobs.map((job) =>
      element("tr", { attributes: { "data-job-id": String(job.id) } }, [
        element("td", { className: "cell-name", attributes: { "data-label": "Name" } }, [
          element("button", {
            className: "link open-job",
            text: job.name,
            attributes: { type: "button", "data-job-id": String(job.id), "data-action": "open" },
          }),
        ]),
        element("td", { attributes: { "data-label": "Status" } }, [badge(job.current_status_type)]),
        element("td", { attributes: { "data-label": "Status time" } }, [timeElement(job.current_status_timestamp)]),
        element("td", { attributes: { "data-label": "Created" } }, [timeElement(job.created_at)]),
        element("td", { className: "cell-actions" }, [
          element("button", {
            className: "danger small",
            text: "Delete",
            attributes: {
              type: "button",
              "data-job-id": String(job.id),
              "data-action": "delete",
              "aria-label": `Delete ${job.name}`,
            },
          }),
        ]),
      ]),
    ),
  );
}

/** The facts of the job panel. */
export function renderFacts(dl, job) {
  const fact = (term, value) => [element("dt", { text: term }), element("dd", {}, [value])];
  dl.replaceChildren(
    ...fact("Id", document.createTextNode(String(job.id))),
    ...fact("Status", badge(job.current_status_type)),
    ...fact("Status time", timeElement(job.current_status_timestamp)),
    ...fact("Created", timeElement(job.created_at)),
    ...fact("Updated", timeElement(job.updated_at)),
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

/** History events; `append` keeps the ones already shown (for "Older events"). */
export function renderHistory(list, events, { append = false } = {}) {
  const items = events.map((event) =>
    element("li", { attributes: { "data-event-id": String(event.id) } }, [
      badge(event.status_type),
      document.createTextNode(" "),
      timeElement(event.timestamp),
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
