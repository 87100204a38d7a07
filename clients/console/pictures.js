// Pictures the API serves only with the staff token (an <img> cannot send it): fetched, shown from an object URL,
// and released when the page goes. One per page, so that every URL it made is revoked on leaving.

import { t } from "/common/i18n.js";
import { h } from "/common/ui.js";

export class Pictures {
  constructor(api) {
    this.api = api;
    this.urls = [];
  }

  /** An <img> of the picture once it is here; on failure an empty one (its alt text in the box). */
  async img(url, { alt = "", dataset = {} } = {}) {
    const src = await this.load(url);
    return h("img", { alt, dataset, src });
  }

  async load(url) {
    try {
      const response = await this.api.request("GET", url, { raw: true });
      if (!response.ok) return null;
      const src = URL.createObjectURL(await response.blob());
      this.urls.push(src);
      return src;
    } catch {
      return null;
    }
  }

  release() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

/** The questions as the candidate saw them: each text, and its image under it (a click opens it full size). */
export async function questionList(pictures, questions) {
  return Promise.all(
    questions.map(async (q) => {
      const text = h("p", { dataset: { test: "question" } }, q.text);
      if (!q.image_url) return text;
      const img = await pictures.img(q.image_url, { alt: t("console.question.image"), dataset: { test: "question-image" } });
      return [text, img.src ? h("a", { class: "question-link", href: img.src, target: "_blank", rel: "noopener", title: t("console.question.open") }, img) : img];
    }),
  );
}
