/**
 * What keeps a program alive: once its loop returned and its base was freed
 * (or the `using` scopes ended), a DnsBase with queries pending over UDP and
 * TCP and a DnsServer holding them unanswered let the process exit. Runs
 * tests/dns/lifetime_program as its own process on the same runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ProgramRun, runTestProgram } from "../util.ts";

const runProgram = (mode: string): Promise<ProgramRun> => runTestProgram(import.meta.url, "lifetime_program", [mode]);

test("a program exits once its loop returned and its base was freed, with a DnsServer and a DnsBase's UDP and TCP queries open", async () => {
  const { code, out, err } = await runProgram("free");
  assert.equal(code, 0, err);
  assert.equal(out, "asked\nreturned\nqueries ERR_DNS_SHUTDOWN ERR_DNS_SHUTDOWN\n");
});

test("a program exits once the using scopes of its base, DnsServer and DnsBase end", async () => {
  const { code, out, err } = await runProgram("using");
  assert.equal(code, 0, err);
  assert.equal(out, "asked\nreturned\nscope left, queries ERR_DNS_SHUTDOWN ERR_DNS_SHUTDOWN\n");
});
