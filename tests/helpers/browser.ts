import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ROOT } from './webdat.ts';

const CHROMIUM = '/usr/bin/chromium';

/** Skip reason for browser tests off CI when Debian's chromium is missing; on CI they must run. */
export const noChromium = !process.env.CI && !fs.existsSync(CHROMIUM) && 'Debian chromium is not installed (scripts/ci-prereqs.sh installs it)';

/** Runs `use` with a headless Debian Chromium (NOTES.md: playwright cannot download one here). */
export async function withChromium(use: (browser: BrowserContext) => Promise<void>): Promise<void> {
  const profile = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.webdat-chromium-'));
  let browser: BrowserContext | null = null;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    await use(browser);
  } finally {
    await browser?.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
