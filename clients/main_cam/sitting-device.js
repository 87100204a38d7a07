// The main phone's device token for one sitting: made with the candidate's log-in and kept per sitting, so a
// reload (or a phone that lost the candidate's log-in) goes on with the sitting.

import { savedDevice } from "/common/device.js";

export class SittingDevice {
  constructor(ctx, sittingId) {
    this.ctx = ctx;
    this.sittingId = sittingId;
    this.key = `dualcam.main.device.${sittingId}`;
    this.device = savedDevice(this.key);
  }

  get token() {
    return this.device?.token;
  }

  /** The phone's device token for the sitting: kept, or made with the candidate's log-in (which takes the main
   * role over from any other phone). Without a candidate log-in: to the log-in screen, and back here after it. */
  async login() {
    if (this.device) return;
    if (!this.ctx.token) {
      this.ctx.afterLogin = `sitting/${this.sittingId}`;
      this.ctx.go("login");
      throw new Error("not logged in");
    }
    const body = await this.ctx.api.post(`/api/v1/candidate/sittings/${this.sittingId}/devices`, { role: "main" });
    // replaced_at: this log-in took the role over from another phone (the screen says so, with the time).
    this.device = { token: body.token, expires_at: body.expires_at, device_id: body.device_id, replaced_at: body.replaced_at ?? null, timezone: body.timezone ?? null };
    localStorage.setItem(this.key, JSON.stringify(this.device));
  }

  /** The token expired or was revoked, or the candidate logs this phone in again: the next login() makes a new
   * one. (A replaced phone keeps its refused token until then, so a reload shows the replaced screen again
   * instead of silently taking the role back.) */
  reset() {
    localStorage.removeItem(this.key);
    this.device = null;
  }
}
