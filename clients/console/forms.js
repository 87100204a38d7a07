// Small pieces of the set-up forms (new exam, new session): a labelled field, the values of a form as the API
// takes them, and a submit that shows the server's refusal beside the form instead of losing what was typed.

import { errorText, h } from "/common/ui.js";

/** A labelled input (or textarea / select): `hint` in small text under it. */
export function field(label, control, hint = null) {
  return h("label", { class: "form-field" }, h("span", {}, label), control, hint ? h("span", { class: "muted small" }, hint) : null);
}

/** The form's values: empty fields left out (the API's defaults apply), numbers as numbers, checkboxes as booleans. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.closest("[hidden]")) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.value.trim() === "") continue;
    else if (el.type === "number") out[el.name] = Number(el.value);
    else out[el.name] = el.value.trim();
  }
  return out;
}

/** Run `send()`; on refusal show it in `slot` (a banner with the server's message) and keep the form as it is. */
export async function submit(slot, send) {
  slot.replaceChildren();
  try {
    return await send();
  } catch (error) {
    slot.append(h("p", { class: "banner banner-bad", role: "alert", dataset: { test: "form-error" } }, errorText(error)));
    return null;
  }
}
