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

  async login() {
    if (this.device) return;
    if (!this.ctx.token) {
      this.ctx.go("login");
      throw new Error("not logged in");
    }
    const body = await this.ctx.api.post(`/api/v1/candidate/sittings/${this.sittingId}/devices`, { role: "main" });
    this.device = { token: body.token, expires_at: body.expires_at, device_id: body.device_id };
    localStorage.setItem(this.key, JSON.stringify(this.device));
  }

  /** Another phone took the sitting over: a reload here must not come back with this token. */
  unsave() {
    localStorage.removeItem(this.key);
  }

  /** The token expired or was revoked: the next login() makes a new one. */
  reset() {
    this.unsave();
    this.device = null;
  }
}
