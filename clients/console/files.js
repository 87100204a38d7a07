// A file the console hands to the browser's downloads (an export from the server, or one it wrote itself).

import { h } from "/common/ui.js";

export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000); // after the download has started
}
