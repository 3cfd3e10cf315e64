/**
 * Real headless Chromium for the report tests: Debian's /usr/bin/chromium driven by playwright-core
 * (no browser is ever downloaded). `openPage` loads an HTML file and records every console error
 * and uncaught exception; `screenshot` writes test-output/screenshots/NAME.png and returns its path.
 */
import { existsSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";

export const CHROMIUM = process.env.COGEN_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumAvailable = existsSync(CHROMIUM);
/** Appended to a test's title when it is skipped. */
export const chromiumSkipNote = chromiumAvailable ? "" : ` [skipped: no Chromium at ${CHROMIUM}; install Debian's chromium package]`;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOT_DIR = path.join(REPO, "test-output", "screenshots");

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

export async function openPage(browser: Browser, file: string, width = 1280): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${path.relative(process.cwd(), file)}`);
  return file;
}

/** How far the page is wider than its window (0 when nothing makes it scroll sideways). */
export function pageOverflow(page: Page): Promise<number> {
  return page.locator("html").evaluate((root) => root.scrollWidth - root.clientWidth);
}

/** The texts of the plot in element `id` (ticks, legend, titles) that stick out of it: cut off for the user. */
export function clippedPlotTexts(page: Page, id: string): Promise<string[]> {
  return page.locator(`#${id}`).evaluate((plot) => {
    const box = plot.getBoundingClientRect();
    return [...plot.querySelectorAll("svg text")]
      .filter((t) => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1);
      })
      .map((t) => t.textContent ?? "");
  });
}
