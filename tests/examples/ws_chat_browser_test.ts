/**
 * The chat page of examples/ws-chat-server.ts in a real browser: Debian's
 * Chromium driven by playwright-core (which downloads no browser) opens
 * the page, types a message, presses Enter, and sees it in the page. A
 * second page sees it too. Playwright starts Chromium with a fresh, empty
 * profile. Skipped, with the reason, where Chromium is not
 * installed (.ci/run installs it with apt).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { within } from "../util.ts";
import { cannotRunExamples, listeningPort, startExample } from "./spawn_example.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = cannotRunExamples() ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed`);

test(
  "the chat page works in Chromium: a message typed and sent with Enter shows in every open page",
  { skip },
  async () => {
    const { chromium } = await import("playwright-core");
    const ex = startExample("ws-chat-server", ["--port", "0"]);
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    try {
      const port = await listeningPort(ex);
      browser = await within(
        chromium.launch({
          executablePath: CHROMIUM,
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        }),
        30000,
        "Chromium to start",
      );
      const alice = await browser.newPage();
      const bob = await browser.newPage();
      for (const page of [alice, bob]) {
        await page.goto(`http://127.0.0.1:${port}/`);
        // Page-side code as a string: it runs in the browser, where `document` exists.
        await page.waitForFunction(`document.getElementById("log").textContent.includes("(connected)")`, null, {
          timeout: 10000,
        });
      }
      await alice.fill("#msg", "hello from Chromium <b>not bold</b>");
      await alice.press("#msg", "Enter");
      for (const page of [alice, bob]) {
        await page.waitForFunction(
          `document.getElementById("log").textContent.includes("hello from Chromium <b>not bold</b>")`,
          null,
          { timeout: 10000 },
        );
        // Shown as text: no element was made from the message.
        assert.equal(await page.locator("#log b").count(), 0);
      }
      assert.equal(await alice.inputValue("#msg"), "", "the input is cleared after sending");
    } finally {
      await browser?.close();
      ex.kill("SIGKILL");
    }
  },
);
