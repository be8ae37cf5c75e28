// Debian's Chromium, driven by playwright-core (never a downloaded browser), and screenshots of a
// page at the two widths the dashboard must work at, saved under test/artifacts/ (git-ignored).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const WIDTHS = [1280, 390] as const;
const ARTIFACTS = join(import.meta.dirname, "..", "artifacts");

const CHROMIUM = "/usr/bin/chromium";

export function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** What a page gets wrong for people using a keyboard or a screen reader, or at a width:
 * form controls without a label, images and SVG charts without a text alternative, not exactly one
 * h1, and a page wider than the window (its content should wrap or scroll inside its card). */
const PROBLEMS = `(() => {
  const problems = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) problems.push("unlabelled " + el.tagName.toLowerCase() + " " + (el.name || el.id));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("img without alt " + img.src.slice(0, 40));
  }
  for (const svg of document.querySelectorAll("svg[role=img]")) {
    const ids = (svg.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
    const named = ids.length > 0 && ids.every((id) => document.getElementById(id)?.textContent?.trim());
    if (!named && !svg.getAttribute("aria-label")) problems.push("svg chart without a name " + svg.id);
  }
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(h1 + " h1 elements");
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push("page " + document.documentElement.scrollWidth + " px wide in a " + window.innerWidth + " px window");
  }
  return problems;
})()`;

/** Saves full-page screenshots of the current page at 1280 px and 390 px wide, and fails when
 * the page has any of the problems above at either width. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const before = page.viewportSize() ?? { width: 1280, height: 800 };
  const problems: string[] = [];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
    for (const problem of (await page.evaluate(PROBLEMS)) as string[]) problems.push(`${width} px: ${problem}`);
  }
  await page.setViewportSize(before);
  if (problems.length > 0) throw new Error(`${name}: ${problems.join("; ")}`);
}
