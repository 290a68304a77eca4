/** Every example answers --help with its usage on stdout and exit 0, and -h the same. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { within } from "../util.ts";
import { cannotRunExamples, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();

for (
  const name of [
    "hello-world",
    "le-proxy",
    "http-server",
    "http-client",
    "ws-chat-server",
    "ws-client",
    "rpc-server",
    "rpc-client",
    "dns-example",
  ]
) {
  test(`${name} answers --help and -h with its usage and exit 0`, { skip }, async () => {
    for (const flag of ["--help", "-h"]) {
      const ex = startExample(name, [flag]);
      assert.equal(await within(ex.exited, 20000, "exit"), 0, ex.stderr());
      assert.match(ex.stdout(), new RegExp(`^usage: ${name}\\.ts `));
      assert.equal(ex.stderr(), "");
    }
  });
}
