// The chart of a time window: how many jobs entered each status per bucket, and the
// failure rate, from GET /api/jobs/stats/, drawn by uPlot (vendored, see
// vendor/uplot/README.md). It is refreshed by the page's own poll (app.js calls
// refreshChart() with the other reads) through the same conditional request: a 304 keeps
// the last data and draws nothing.
//
// For the page's window control: setChartWindow("1h") or setChartWindow({since, until})
// moves the chart to another window at once; chartWindowFromParams() reads one from the
// address bar's parameters.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { ApiProblem, ConditionalResource } from "./api.js";
import { STATUSES } from "./contract.js";
import { clearAlert, formatDuration, formatNumber, problemMessage, showAlert, statusLabel } from "./views.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The windows the page offers by name, each as its length. */
export const CHART_PRESETS = { "15m": 15 * MINUTE_MS, "1h": HOUR_MS, "24h": DAY_MS, "7d": 7 * DAY_MS };
const PRESET_LABELS = { "15m": "Last 15 min", "1h": "Last hour", "24h": "Last 24 h", "7d": "Last 7 days" };
export const DEFAULT_CHART_WINDOW = "24h";

// The API's bucket sizes (aligned to UTC), smallest first.
const BUCKET_MS = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS };
// Buckets a chart of a few hundred pixels can show apart; the API's own limit is 1,000 a
// read (its 400 otherwise; stated in the description's words only, so it is repeated here).
const MAX_BUCKETS_SHOWN = 200;
const API_MAX_BUCKETS = 1000;

// Beside the tiles (wide screens) the chart is as short as the tiles' row can hold, so the
// jobs table still starts in the first screen (15 rows at 1440x900); elsewhere taller.
const WIDE = window.matchMedia("(min-width: 75rem)");
const plotHeight = () => (WIDE.matches ? 60 : 104);

const floorTo = (ms, step) => Math.floor(ms / step) * step;
const ceilTo = (ms, step) => Math.ceil(ms / step) * step;
const bucketCount = (sinceMs, untilMs, step) => (ceilTo(untilMs, step) - floorTo(sinceMs, step)) / step;

/**
 * The bucket for a window: the smallest size that gives at most 200 buckets (15 min and
 * 1 h: minute; 24 h and 7 days: hour; longer: day).
 */
export function bucketFor(sinceMs, untilMs) {
  for (const [size, step] of Object.entries(BUCKET_MS)) {
    if (bucketCount(sinceMs, untilMs, step) <= MAX_BUCKETS_SHOWN) return size;
  }
  return "day";
}

function instant(value) {
  if (value === null || value === undefined || value === "") return null;
  const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A window as the chart keeps it: {preset} for a named one, which follows the clock, or
 * {since, until} in epoch ms for fixed bounds (until null: open, up to now). Anything it
 * cannot read is the default window.
 */
function normalizeWindow(spec) {
  if (typeof spec === "string") {
    return spec in CHART_PRESETS ? { preset: spec } : { preset: DEFAULT_CHART_WINDOW };
  }
  if (spec?.preset in CHART_PRESETS) return { preset: spec.preset };
  const since = instant(spec?.since);
  const until = instant(spec?.until);
  if (since === null || (until !== null && since >= until)) return { preset: DEFAULT_CHART_WINDOW };
  return { since, until };
}

/**
 * The window the address bar asks for: `window` naming a preset (15m, 1h, 24h, 7d); else
 * custom bounds, those of `window_on` first (status: status_changed_after/_before,
 * created: created_after/_before), then either pair, then since/until; else 24 h.
 */
export function chartWindowFromParams(params = new URLSearchParams(window.location.search)) {
  const preset = params.get("window");
  if (preset in CHART_PRESETS) return { preset };
  // The dashboard's own custom range (app.js): from/to, UTC instants.
  if (params.get("from")) return normalizeWindow({ since: params.get("from"), until: params.get("to") });
  const pairs = {
    status: ["status_changed_after", "status_changed_before"],
    created: ["created_after", "created_before"],
  };
  const order = [pairs[params.get("window_on")], pairs.status, pairs.created, ["since", "until"]];
  for (const pair of order.filter(Boolean)) {
    const [after, before] = pair.map((name) => params.get(name));
    if (after) return normalizeWindow({ since: after, until: before });
  }
  return { preset: DEFAULT_CHART_WINDOW };
}

const isoSeconds = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");

/**
 * The stats request for a window as of `now`: bounds on bucket edges, so the path (and so
 * the ETag the poll revalidates) stays the same until the window moves into a new bucket.
 */
export function statsPath(spec, now = Date.now()) {
  let since;
  let until;
  if (spec.preset) {
    until = now;
    since = now - CHART_PRESETS[spec.preset];
  } else {
    ({ since } = spec);
    until = spec.until ?? Math.max(now, since + MINUTE_MS);
  }
  const bucket = bucketFor(since, until);
  const step = BUCKET_MS[bucket];
  until = ceilTo(until, step);
  // A window longer than the API gives in one read: its latest 1,000 days.
  since = Math.max(floorTo(since, step), until - API_MAX_BUCKETS * step);
  const params = new URLSearchParams({ since: isoSeconds(since), until: isoSeconds(until), bucket });
  return `/api/jobs/stats/?${params}`;
}

// --- what is shown ----------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

const exactFormat = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: "UTC",
});

function windowLabel(spec) {
  if (spec.preset) return PRESET_LABELS[spec.preset];
  const until = spec.until === null ? "now" : `${exactFormat.format(spec.until)} UTC`;
  return `${exactFormat.format(spec.since)} UTC to ${until}`;
}

const percent = (rate) => `${Math.round(rate * 100)}%`;

/** "12 new, 412 finished, 23% failed, run time p50 4 min, p95 38 min". */
export function totalsText(total) {
  const parts = [`${formatNumber(total.entered.PENDING)} new`, `${formatNumber(total.finished)} finished`];
  if (total.failure_rate !== null) parts.push(`${percent(total.failure_rate)} failed`);
  const run = total.run_time;
  if (run.p50_seconds !== null) {
    parts.push(`run time p50 ${formatDuration(run.p50_seconds)}, p95 ${formatDuration(run.p95_seconds)}`);
  }
  return parts.join(", ");
}

function cell(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** The figures as a table for screen readers: the window's total, then each bucket that
 * saw any event (the empty ones would only be noise to listen through). */
function renderTable(table, stats, label) {
  const byBucket = { minute: "Minute", hour: "Hour", day: "Day" }[stats.bucket];
  const columns = [`${byBucket} from (UTC)`, ...STATUSES.map(statusLabel), "Failure rate", "Run time p50", "Run time p95"];
  const row = (heading, figures) => {
    const run = figures.run_time;
    const tr = document.createElement("tr");
    tr.append(
      cell("th", heading, { scope: "row" }),
      ...STATUSES.map((status) => cell("td", formatNumber(figures.entered[status]))),
      cell("td", figures.failure_rate === null ? "none finished" : percent(figures.failure_rate)),
      cell("td", run.p50_seconds === null ? "–" : formatDuration(run.p50_seconds)),
      cell("td", run.p95_seconds === null ? "–" : formatDuration(run.p95_seconds)),
    );
    return tr;
  };
  const active = stats.buckets.filter((bucket) => STATUSES.some((status) => bucket.entered[status] > 0));
  const head = document.createElement("thead");
  head.append(document.createElement("tr"));
  head.firstChild.append(...columns.map((column) => cell("th", column, { scope: "col" })));
  const body = document.createElement("tbody");
  body.append(
    row(`${label}, in total`, stats.total),
    ...active.map((bucket) => row(`${exactFormat.format(Date.parse(bucket.start))}`, bucket)),
  );
  table.replaceChildren(
    cell("caption", `Jobs entering each status: ${label}, per ${stats.bucket}; ${byBucket.toLowerCase()}s with no event left out`),
    head,
    body,
  );
}

// The badges' colours (styles.css), and a dash for the failure rate, which is a share and
// has its own axis.
const SERIES_COLOURS = { PENDING: "#3d4651", RUNNING: "#0a4a8c", COMPLETED: "#11652f", FAILED: "#a01c10" };
const RATE_COLOUR = "#7a4a00";

function plotData(stats) {
  const xs = stats.buckets.map((bucket) => Date.parse(bucket.start) / 1000);
  return [
    xs,
    ...STATUSES.map((status) => stats.buckets.map((bucket) => bucket.entered[status])),
    stats.buckets.map((bucket) => (bucket.failure_rate === null ? null : bucket.failure_rate * 100)),
  ];
}

const tickTime = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" });
const tickDay = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });

/** The time axis in UTC, 24-hour: "14:00", and the day ("30 Nov") at midnight or when the
 * ticks are days apart. */
function timeTicks(plot, ticks, axis, space, increment) {
  return ticks.map((seconds) =>
    increment >= DAY_MS / 1000 || seconds % (DAY_MS / 1000) === 0
      ? tickDay.format(seconds * 1000)
      : tickTime.format(seconds * 1000),
  );
}

function plotOptions(width, figure) {
  const counted = (status) => ({
    label: statusLabel(status),
    scale: "jobs",
    stroke: SERIES_COLOURS[status],
    width: 1.5,
    points: { size: 4 },
  });
  return {
    width,
    height: plotHeight(),
    // Bucket starts are UTC instants, labelled in UTC like every exact time on the page.
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    // One line of names under the plot, each marked in its series' colour (and the rate's
    // dash); the values are in the caption and the table, not on hover only.
    legend: { live: false, markers: { fill: (plot, index) => plot.series[index].stroke(plot, index) } },
    cursor: { drag: { x: false, y: false } },
    scales: {
      jobs: { range: (plot, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] },
      rate: { range: [0, 100] },
    },
    series: [
      {},
      ...STATUSES.map(counted),
      { label: "Failure rate", scale: "rate", stroke: RATE_COLOUR, width: 1.5, dash: [5, 3] },
    ],
    axes: [
      { size: 26, values: timeTicks },
      { scale: "jobs", size: 40, space: 18, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6] },
      { scale: "rate", side: 1, size: 50, space: 18, values: (plot, ticks) => ticks.map((tick) => `${tick}%`), grid: { show: false } },
    ],
    hooks: {
      // Counted, so a test can tell a poll answered 304 drew nothing.
      draw: [() => (figure.dataset.draws = String(Number(figure.dataset.draws || 0) + 1))],
    },
  };
}

// --- state and polling ------------------------------------------------------------------

let chartWindow = null; // the window drawn: setChartWindow's, else the address bar's
let chosenWindow = null; // set by setChartWindow: then the address bar no longer decides
let resource = null;
let plot = null;
let wired = false;

function draw(stats) {
  const figure = $("chart-figure");
  const label = windowLabel(chartWindow);
  $("chart-totals").textContent = totalsText(stats.total);
  renderTable($("chart-table"), stats, label);
  figure.dataset.buckets = String(stats.buckets.length);
  const container = $("chart-plot");
  if (plot) plot.setData(plotData(stats));
  else plot = new uPlot(plotOptions(container.clientWidth || 300, figure), plotData(stats), container);
}

function wire() {
  const section = $("chart");
  const toggle = $("chart-toggle");
  toggle.addEventListener("click", () => {
    const expanded = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(expanded));
    section.classList.toggle("chart-collapsed", !expanded);
  });
  // The plot follows its box's width: the window, the panel beside the table, and the
  // narrow layout's disclosure all change it. Only a new width redraws.
  new ResizeObserver(() => {
    const width = $("chart-plot").clientWidth;
    if (plot && width > 0 && width !== plot.width) plot.setSize({ width, height: plotHeight() });
  }).observe($("chart-plot"));
}

/**
 * Moves the chart to another window and fetches it at once: a preset name ("15m", "1h",
 * "24h", "7d"), which follows the clock, or {since, until} (Date, RFC 3339 string or epoch
 * ms; until left out: up to now). The bucket follows the window's length (bucketFor).
 * Resolves as refreshChart() does.
 */
export function setChartWindow(spec) {
  chosenWindow = normalizeWindow(spec);
  return refreshChart();
}

/**
 * One poll of the chart: revalidates the window's stats with If-None-Match and draws only
 * when they changed. Resolves to false when the API could not answer (an outage, as the
 * page's other reads report it), else true; a problem with the request is shown by the chart.
 */
export async function refreshChart() {
  if (!wired) {
    wire();
    wired = true;
  }
  // The address bar is read on every poll: the page's window control writes it (app.js).
  chartWindow = chosenWindow ?? chartWindowFromParams();
  const path = statsPath(chartWindow);
  if (resource) resource.moveTo(path);
  else resource = new ConditionalResource(path);
  try {
    if (await resource.refresh()) draw(resource.data);
    // The words only (a window moved to the same buckets is a 304, and draws nothing); not
    // while the data is still another path's (moved while its answer was on the way).
    if (resource.etag) {
      const heading = `${windowLabel(chartWindow)}, per ${resource.data.bucket}`;
      if ($("chart-heading").textContent !== heading) $("chart-heading").textContent = heading;
    }
    clearAlert($("chart-error"));
    return true;
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    if (!problem.isOutage) showAlert($("chart-error"), problemMessage(problem));
    return !problem.isOutage;
  }
}
