// The review's side panel: the claim, each flag's verdict, an incident at the player's position, the decision (four
// eyes on a violation), its versions, and the ops' reopen. Every action is a documented API call; after each the
// page reloads the sheet so that what is shown is what the server holds.

import { getLang, t } from "/common/i18n.js";
import { errorText, fmtSeconds, h, timeEl, toast } from "/common/ui.js";
import { flagLabel } from "./flag-kinds.js";
import { clock } from "./timeline.js";

const OUTCOMES = ["clean", "suspicious", "violation", "technical"];

/** A reason code's label in the page's language, as the server lists them (GET /ops/review/reason-codes). */
export function reasonLabel(reasons, code) {
  const found = reasons.find((r) => r.code === code);
  if (!found) return code;
  return getLang() === "en" ? found.label_en : found.label;
}

/** ctx: the console's; s: {sheet, flags, reasons, selected}; actions: {reload(), position(), seek(s), startsAt} */
export function reviewPanel(ctx, s, actions) {
  const { sheet } = s;
  const tz = sheet.timezone;
  const me = ctx.staff.username;
  const url = (tail) => `/api/v1/ops/sittings/${sheet.sitting_id}/${tail}`;

  async function act(call, done) {
    try {
      await call();
      if (done) toast(done, "ok");
    } catch (error) {
      toast(errorText(error), "bad");
    }
    await actions.reload();
  }

  function claimBox() {
    const claim = sheet.claim;
    if (!claim)
      return h("div", { class: "claim" }, h("button", { class: "btn btn-secondary", dataset: { action: "claim" }, onclick: () => act(() => ctx.api.post(url("claim"))) }, t("console.review.claim")));
    const mine = claim.staff.username === me;
    return h(
      "div",
      { class: `claim ${mine ? "claim-mine" : "claim-other"}`, dataset: { test: "claim" } },
      h("span", {}, t(mine ? "console.review.claimed_by_me" : "console.review.claimed_by", { who: claim.staff.display_name }), " ", t("console.review.until"), " ", timeEl(claim.expires_at, tz)),
      (mine || ctx.isOps) && h("button", { class: "btn-link", dataset: { action: "release" }, onclick: () => act(() => ctx.api.delete(url("claim"))) }, t("console.review.release")),
    );
  }

  function flagRow(flag) {
    const verdict = sheet.verdicts.find((v) => v.flag_id === flag.id);
    const note = h("input", { type: "text", class: "note", placeholder: t("console.review.note"), value: verdict?.note || "", maxlength: 2000 });
    const from = (Date.parse(flag.started_at) - Date.parse(actions.startsAt)) / 1000;
    const put = (value) => act(() => ctx.api.put(`/api/v1/ops/flags/${flag.id}/verdict`, { verdict: value, note: note.value || null }));
    return h(
      "li",
      { class: `flag${s.selected === flag.id ? " selected" : ""}`, dataset: { test: "flag", id: flag.id, kind: flag.kind, verdict: verdict?.verdict || "" } },
      h("button", { class: "btn-link when", onclick: () => actions.seek(from) }, clock(from)),
      h("span", { class: "what" }, flagLabel(flag.kind), " · ", t(`app.${flag.role}`), " · ", fmtSeconds(flag.end_s - flag.start_s)),
      verdict && h("span", { class: `pill ${verdict.verdict === "confirmed" ? "pill-bad" : "pill-ok"}` }, t(`console.verdict.${verdict.verdict}`)),
      h(
        "div",
        { class: "verdict" },
        note,
        h("button", { class: "btn btn-small btn-danger", dataset: { action: "confirm-flag" }, onclick: () => put("confirmed") }, t("console.verdict.confirm")),
        h("button", { class: "btn btn-small btn-secondary", dataset: { action: "dismiss-flag" }, onclick: () => put("dismissed") }, t("console.verdict.dismiss")),
      ),
    );
  }

  function reasonSelect(name) {
    return h("select", { name, dataset: { test: name } }, s.reasons.map((r) => h("option", { value: r.code }, reasonLabel(s.reasons, r.code))));
  }

  function incidentBox() {
    const reason = reasonSelect("incident-reason");
    const role = h("select", { name: "incident-role" }, h("option", { value: "" }, t("console.review.both")), ["main", "aux"].map((r) => h("option", { value: r }, t(`app.${r}`))));
    const note = h("input", { type: "text", class: "note", placeholder: t("console.review.note"), maxlength: 2000 });
    const add = () => {
      const at = Math.round(actions.position() * 10) / 10;
      act(() => ctx.api.post(url("incidents"), { offset_s: at, role: role.value || null, reason_code: reason.value, note: note.value || null }), t("console.review.incident_added", { at: clock(at) }));
    };
    return h("div", { class: "incident" }, h("h3", {}, t("console.review.incident")), reason, role, note, h("button", { class: "btn btn-small", dataset: { action: "add-incident" }, onclick: add }, t("console.review.incident_at_now")));
  }

  function decisionBox() {
    const current = sheet.decisions.find((d) => d.current);
    if (current?.status === "awaiting_second") return secondBox(current);
    if (current && !(current.outcome === "suspicious" || (current.status === "disputed" && ctx.isOps)))
      return ctx.isOps ? reopenBox(current) : h("p", { class: "muted" }, t("console.review.decided_ops_reopen"));
    const outcome = h("div", { class: "outcomes", role: "radiogroup" }, OUTCOMES.map((o) => h("label", {}, h("input", { type: "radio", name: "outcome", value: o, onchange: () => (codes.hidden = o !== "violation") }), t(`console.outcome.${o}`))));
    const codes = h("fieldset", { class: "codes", hidden: true }, h("legend", {}, t("console.review.reasons")), s.reasons.map((r) => h("label", {}, h("input", { type: "checkbox", name: "reason", value: r.code }), reasonLabel(s.reasons, r.code), " ", h("span", { class: "muted small" }, t(`console.consequence.${r.consequence}`)))));
    const note = h("textarea", { name: "decision-note", rows: 2, placeholder: t("console.review.note"), maxlength: 2000 });
    const submit = () => {
      const chosen = outcome.querySelector("input:checked")?.value;
      if (!chosen) return toast(t("console.review.pick_outcome"), "bad");
      const reasonCodes = chosen === "violation" ? [...codes.querySelectorAll("input:checked")].map((i) => i.value) : [];
      act(() => ctx.api.post(url("decisions"), { outcome: chosen, reason_codes: reasonCodes, note: note.value || null }), t("console.review.decided"));
    };
    return h(
      "div",
      { class: "decide", dataset: { test: "decide" } },
      h("h3", {}, t(current?.status === "disputed" ? "console.review.resolve_dispute" : "console.review.decision")),
      outcome,
      codes,
      note,
      h("button", { class: "btn", dataset: { action: "decide" }, onclick: submit }, t("console.review.submit_decision")),
    );
  }

  function secondBox(decision) {
    if (decision.decided_by?.username === me) return h("p", { class: "banner banner-warn", dataset: { test: "awaiting-second" } }, t("console.review.awaiting_other"));
    const note = h("input", { type: "text", class: "note", placeholder: t("console.review.note"), maxlength: 2000 });
    const send = (agrees) => act(() => ctx.api.post(`/api/v1/ops/decisions/${decision.id}/second`, { agrees, note: note.value || null }));
    return h(
      "div",
      { class: "second", dataset: { test: "second" } },
      h("h3", {}, t("console.review.second_title")),
      h("p", {}, t("console.review.second_ask", { who: decision.decided_by?.display_name || "?" }), " ", decision.reason_codes.map((c) => reasonLabel(s.reasons, c)).join("、")),
      note,
      h("button", { class: "btn btn-danger", dataset: { action: "second-agree" }, onclick: () => send(true) }, t("console.review.agree")),
      h("button", { class: "btn btn-secondary", dataset: { action: "second-disagree" }, onclick: () => send(false) }, t("console.review.disagree")),
    );
  }

  function reopenBox() {
    const note = h("input", { type: "text", class: "note", placeholder: t("console.review.reopen_note"), maxlength: 2000 });
    const reopen = () => {
      if (!note.value.trim()) return toast(t("console.review.reopen_note"), "bad");
      act(() => ctx.api.post(url("reopen"), { note: note.value }), t("console.review.reopened"));
    };
    return h("div", { class: "reopen" }, h("h3", {}, t("console.review.reopen")), note, h("button", { class: "btn btn-secondary", dataset: { action: "reopen" }, onclick: reopen }, t("console.review.reopen")));
  }

  function history() {
    if (!sheet.decisions.length) return h("p", { class: "muted", dataset: { test: "no-decision" } }, t("console.review.no_decision"));
    return h(
      "ol",
      { class: "versions", dataset: { test: "versions" } },
      sheet.decisions.map((d) =>
        h(
          "li",
          { class: d.current ? "current" : "superseded", dataset: { test: "version", status: d.status, outcome: d.outcome } },
          h("strong", {}, `v${d.version} ${t(`console.outcome.${d.outcome}`)}`),
          " · ",
          t(`console.status.${d.status}`),
          d.reason_codes.length > 0 && h("div", {}, d.reason_codes.map((c) => reasonLabel(s.reasons, c)).join("、")),
          h("div", { class: "muted small" }, d.decided_by?.display_name, " ", timeEl(d.decided_at, tz), d.note ? ` — ${d.note}` : ""),
          d.second_by && h("div", { class: "muted small" }, t(d.second_agrees ? "console.review.second_agreed" : "console.review.second_disagreed", { who: d.second_by.display_name }), d.second_note ? ` — ${d.second_note}` : ""),
          d.reopen_note && h("div", { class: "muted small" }, t("console.review.reopened_note", { note: d.reopen_note })),
        ),
      ),
    );
  }

  return h(
    "aside",
    { class: "review-panel" },
    claimBox(),
    h("section", {}, h("h3", {}, t("console.review.flags", { n: s.flags.length })), s.flags.length ? h("ul", { class: "flags" }, s.flags.map(flagRow)) : h("p", { class: "muted" }, t("console.queue.no_reasons"))),
    incidentBox(),
    h("section", {}, decisionBox()),
    h("section", {}, h("h3", {}, t("console.review.history")), history()),
  );
}
