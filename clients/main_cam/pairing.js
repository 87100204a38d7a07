// Pairing the aux phone: the server's single-use QR code of /aux/#pair=<token> with its expiry countdown, the same
// link as text, and the live status. Its own step before the guide, and again from the answer screen when the aux
// phone drops.

import { msUntil } from "/common/clock.js";
import { t } from "/common/i18n.js";
import { countdownEl, errorText, h } from "/common/ui.js";
import { examTimeZone, timesLine } from "./sitting-shared.js";

export class Pairing {
  constructor(view) {
    this.view = view;
    this.offer = null;
    this.offerAt = 0;
    this.busy = false;
    this.shown = false; // opened from the answer screen's aux-offline banner
  }

  /** The aux phone claimed this code: it paired after the code was made. */
  used() {
    const s = this.view.session;
    return this.offer && s.pairedAt && s.pairedAt >= this.offerAt;
  }

  async renew() {
    if (this.busy) return;
    this.busy = true;
    try {
      this.offerAt = Date.now();
      this.offer = await this.view.session.api.post("/api/v1/device/pairing");
      this.view.session.paired = false;
    } catch (error) {
      this.view.message = errorText(error);
    }
    this.busy = false;
    this.view.render();
  }

  /** Called by the tick while the code is on screen: an expired code is replaced before anyone scans it. */
  renewIfExpired() {
    if (this.offer && msUntil(this.offer.expires_at) <= 0) this.renew();
  }

  panel() {
    const s = this.view.session;
    // A used code (the aux phone claimed it) or an expired one: make a new one for the next scan.
    if (!this.offer || msUntil(this.offer.expires_at) <= 0 || (s.paired && !s.peerOnline && !this.busy && this.used())) {
      this.renew();
      return h("p", { class: "muted" }, t("common.loading"));
    }
    const status = s.peerOnline ? "online" : s.paired ? "paired" : "waiting";
    return h(
      "div",
      { dataset: { test: "pairing" } },
      h("p", {}, t("pair.intro")),
      h("div", { class: "qr", dataset: { test: "qr" }, html: this.offer.qr_svg }),
      countdownEl(this.offer.expires_at, "pair.expires", { className: "muted small center", test: "qr-expires", timeZone: examTimeZone(this.view), seconds: true }),
      h("div", { class: `banner ${status === "online" ? "banner-ok" : "banner-info"}`, dataset: { test: "pair-status", status } }, t(`pair.${status}`)),
      h("p", { class: "muted small" }, t("pair.link")),
      h("div", { class: "link-box", dataset: { test: "pair-url" } }, this.offer.url),
      h("button", { class: "btn btn-secondary btn-block", dataset: { action: "new-qr" }, onclick: () => this.renew() }, t("pair.new")),
    );
  }
}

export function pairStage(view) {
  return h("section", { class: "card" }, h("h2", {}, t("pair.title")), view.pairing.panel(), timesLine(view));
}

/** With the aux phone online (waiting, answering): a code one tap away all the same, so the candidate can bring in
 * another phone, or pair the aux phone that another phone replaced again (it has no account to log in with). */
export function replaceAuxLink(view) {
  const pairing = view.pairing;
  const toggle = () => {
    pairing.shown = !pairing.shown;
    if (pairing.shown && pairing.used()) pairing.offer = null; // that code was scanned already: a fresh one
    view.render();
  };
  return h(
    "div",
    { class: "replace-aux", dataset: { test: "replace-aux" } },
    h("button", { class: "btn-link", type: "button", dataset: { action: "replace-aux" }, onclick: toggle }, t("pair.replace_aux")),
    pairing.shown && [h("p", { class: "muted small" }, t("pair.replace_aux_hint")), pairing.panel()],
  );
}

/** While answering without the aux phone: say so, with a new code one tap away. */
export function auxOfflineBanner(view) {
  const pairing = view.pairing;
  const toggle = () => {
    pairing.shown = !pairing.shown;
    view.render();
  };
  return h(
    "div",
    { class: "banner banner-bad", dataset: { test: "aux-offline" } },
    t("sitting.aux_offline"),
    " ",
    h("button", { class: "btn-link", onclick: toggle }, t("pair.new")),
    pairing.shown && pairing.panel(),
  );
}
