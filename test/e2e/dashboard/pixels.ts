// Whether a chart was drawn: counts the canvas pixels of a colour (run in
// the page). uPlot draws on canvas, so the DOM alone cannot tell.

import type { Page } from 'playwright-core';

/** The background colour of the first element matching `selector`, as [r, g, b]. */
export async function colorOf(page: Page, selector: string): Promise<[number, number, number]> {
  const css = await page
    .locator(selector)
    .first()
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css);
  if (m === null) throw new Error(`no colour in "${css}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Pixels of the first canvas under `selector` within a small distance of `rgb`. */
export async function pixelsOf(page: Page, selector: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ({ selector, rgb }) => {
      const canvas = document.querySelector(`${selector} canvas`) as HTMLCanvasElement | null;
      if (canvas === null || canvas.width === 0 || canvas.height === 0) return 0;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        const d = Math.abs(data[i]! - rgb[0]) + Math.abs(data[i + 1]! - rgb[1]) + Math.abs(data[i + 2]! - rgb[2]);
        if (d < 30 && data[i + 3]! > 200) n++;
      }
      return n;
    },
    { selector, rgb },
  );
}
