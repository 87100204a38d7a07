// A session's live dashboard: how many sittings are in each state, and a page of candidates with both phones
// (online, bytes in), the face gate, live flags and the last event. The session's staff socket says when something
// changed; the page then fetches its rows again (at most every REFETCH_MS), so 1,000 candidates cost one page of
// rows, not a thousand messages. Filters, search and paging go to the API. Times in the exam's zone, labelled.

import { t } from "/common/i18n.js";
import { errorText, every, fmtBytes, h, mount, serverClockEl, timeEl, updateCountdowns } from "/common/ui.js";
import { consolePage } from "./chrome.js";
import { flagLabel } from "./flag-kinds.js";

const STATES = ["scheduled", "waiting", "ready", "answering", "recorded", "uploaded", "absent", "terminated", "incomplete"];
const PAGE = 50;
const REFETCH_MS = 400;
const SAFETY_MS = 15000; // a refetch now and then, should a notice be lost between the hub and this tab
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

function eventLabel(kind) {
  const key = `console.event.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

export function page(root, ctx, sessionId) {
  const filters = { state: "", search: "", offset: 0 };
  let session = null;
  let board = null;
  let error = null;
  let live = "connecting"; // connecting | live | offline
  let socket = null;
  let closed = false;
  let retries = 0;
  let pending = null;
  let loading = false;
  let again = false;

  async function load() {
    if (loading) {
      again = true; // one more fetch once this one is in
      return;
    }
    loading = true;
    const query = new URLSearchParams({ offset: String(filters.offset), limit: String(PAGE) });
    if (filters.state) query.set("state", filters.state);
    if (filters.search.trim()) query.set("search", filters.search.trim());
    try {
      session ??= await ctx.api.get(`/api/v1/ops/sessions/${sessionId}`);
      board = await ctx.api.get(`/api/v1/ops/sessions/${sessionId}/dashboard?${query}`);
      error = null;
    } catch (e) {
      error = errorText(e);
    }
    loading = false;
    if (!closed) paint();
    if (again && !closed) {
      again = false;
      load();
    }
  }

  function soon() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      load();
    }, REFETCH_MS);
  }

  function connect() {
    if (closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/ops/sessions/${sessionId}/live?token=${encodeURIComponent(ctx.staff.token)}`);
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "hello") {
        retries = 0;
        live = "live";
        load(); // what changed while the socket was away
      } else if (frame.type === "changed") soon();
    };
    socket.onclose = (event) => {
      socket = null;
      if (closed) return;
      live = "offline";
      paint();
      if (event.code === 4401) return ctx.logout();
      if (event.code === 4404) return;
      setTimeout(connect, BACKOFF_MS[Math.min(retries++, BACKOFF_MS.length - 1)]);
    };
  }

  function setFilter(name, value) {
    filters[name] = value;
    filters.offset = 0;
    load();
  }

  function counts() {
    return h(
      "div",
      { class: "counts", dataset: { test: "counts" } },
      STATES.map((state) =>
        h(
          "button",
          {
            type: "button",
            class: `count${filters.state === state ? " selected" : ""}`,
            dataset: { test: `count-${state}`, count: String(board.counts[state] ?? 0) },
            onclick: () => setFilter("state", filters.state === state ? "" : state),
          },
          h("strong", {}, String(board.counts[state] ?? 0)),
          h("span", {}, t(`state.${state}`)),
        ),
      ),
    );
  }

  function phoneCell(phone) {
    const presence = !phone.logged_in ? "absent" : phone.online ? "online" : "offline";
    const bytes = phone.recording === "missing" ? "—" : `${fmtBytes(phone.bytes_received)}${phone.length ? ` / ${fmtBytes(phone.length)}` : ""}`;
    return h(
      "td",
      { dataset: { test: `phone-${phone.role}`, presence, recording: phone.recording } },
      h("span", { class: `dot dot-${presence}`, title: t(`console.live.${presence}`) }),
      t(`console.live.${presence}`),
      h("div", { class: "muted small" }, t(`console.live.recording_${phone.recording}`), " · ", bytes),
    );
  }

  function row(r) {
    const flags = Object.entries(r.live_flags);
    return h(
      "tr",
      { dataset: { test: "live-row", sittingId: r.sitting_id, state: r.state } },
      h("td", {}, h("a", { href: `#/sitting/${r.sitting_id}` }, r.name), h("div", { class: "muted small" }, r.id_number_masked)),
      h("td", {}, h("span", { class: `pill state-${r.state}` }, t(`state.${r.state}`))),
      r.phones.map(phoneCell),
      h("td", { dataset: { test: "face" } }, r.face_passed_at ? [t("console.live.face_passed"), " ", timeEl(r.face_passed_at, board.timezone, { seconds: true })] : h("span", { class: "muted" }, t("console.live.face_not_yet"))),
      h("td", { dataset: { test: "live-flags" } }, flags.length ? flags.map(([kind, n]) => h("span", { class: "pill pill-warn" }, `${flagLabel(kind)} ×${n}`)) : h("span", { class: "muted" }, "—")),
      h(
        "td",
        { dataset: { test: "last-event" } },
        r.last_event ? [eventLabel(r.last_event.kind), h("div", { class: "muted small" }, timeEl(r.last_event.at, board.timezone, { seconds: true }))] : "—",
      ),
    );
  }

  function pager() {
    const last = Math.max(0, board.matched - 1);
    const from = board.matched ? board.offset + 1 : 0;
    const to = Math.min(board.offset + board.rows.length, board.matched);
    const go = (offset) => ((filters.offset = offset), load());
    return h(
      "div",
      { class: "pager", dataset: { test: "pager" } },
      h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: board.offset === 0, dataset: { action: "prev-page" }, onclick: () => go(Math.max(0, board.offset - PAGE)) }, t("console.live.prev")),
      h("span", { dataset: { test: "range" } }, t("console.live.range", { from, to, total: board.matched })),
      h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: board.offset + PAGE > last, dataset: { action: "next-page" }, onclick: () => go(board.offset + PAGE) }, t("console.live.next")),
    );
  }

  // The search box is kept across live updates (it is built again only by render(), on a language switch), so
  // what a user is typing, an IME composition included, and the focus survive the refetches.
  let slots = null;

  function searchBox() {
    return h("input", {
      type: "search",
      value: filters.search,
      placeholder: t("console.live.search"),
      dataset: { test: "search" },
      onkeydown: (event) => event.key === "Enter" && !event.isComposing && setFilter("search", event.target.value),
      onchange: (event) => setFilter("search", event.target.value),
    });
  }

  function render() {
    slots = null;
    paint();
  }

  function paint() {
    const crumbs = [[t("console.sessions.crumb"), "#/sessions"], [session?.title ?? "…"], [t("console.sessions.dashboard")]];
    if (!board) {
      const body = error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : h("p", { class: "muted" }, t("common.loading"));
      mount(root, consolePage(ctx, crumbs, body));
      return;
    }
    if (!slots) {
      slots = { head: h("div", { class: "live-head" }), error: h("div"), counts: h("div"), clear: h("span"), rows: h("div") };
      mount(root, consolePage(ctx, crumbs, slots.head, slots.error, slots.counts, h("div", { class: "filters" }, searchBox(), slots.clear), slots.rows));
    }
    mount(
      slots.head,
      h("span", { class: `live-state live-${live}`, dataset: { test: "live-state", live } }, t(`console.live.socket_${live}`)),
      h("span", { class: "muted" }, serverClockEl(board.timezone)),
      h("a", { class: "btn btn-small", href: `#/queue/${sessionId}` }, t("console.sessions.queue")),
    );
    mount(slots.error, error ? h("p", { class: "banner banner-bad", role: "alert" }, error) : null);
    mount(slots.counts, counts());
    mount(
      slots.clear,
      filters.state ? h("button", { type: "button", class: "btn-link", dataset: { action: "all-states" }, onclick: () => setFilter("state", "") }, t("console.live.all_states")) : null,
    );
    mount(
      slots.rows,
      h(
        "table",
        { class: "grid live", dataset: { test: "live-rows" } },
        h("thead", {}, h("tr", {}, ["candidate", "state", "main", "aux", "face", "flags", "event"].map((c) => h("th", {}, t(`console.live.col_${c}`))))),
        h("tbody", {}, board.rows.map(row)),
      ),
      board.rows.length ? null : h("p", { class: "muted", dataset: { test: "no-rows" } }, t("console.live.no_rows")),
      pager(),
    );
  }

  render();
  load();
  connect();
  const safety = setInterval(load, SAFETY_MS);
  const stopClock = every(1000, () => updateCountdowns(root));
  return {
    render,
    destroy() {
      closed = true;
      clearInterval(safety);
      stopClock();
      clearTimeout(pending);
      socket?.close();
    },
  };
}
