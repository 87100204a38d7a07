// The flag kinds (the contract of the analysis, the events and the live checks) and their labels.

import { t } from "/common/i18n.js";

export const FLAG_KINDS = [
  "different_person", "several_faces", "no_face", "looking_away", "poor_video", "audio_silent",
  "app_hidden", "call", "screen_locked", "offline", "aux_offline", "device_replaced", "short_recording",
];

export function flagLabel(kind) {
  const key = `console.flag.${kind}`;
  const label = t(key);
  return label === key ? kind : label; // a kind added later shows its name rather than nothing
}
