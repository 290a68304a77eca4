import { test } from "node:test";
import assert from "node:assert/strict";
import { contentTypeFor, directoryListingHtml, parseRange, resolveUnderRoot } from "../../examples/lib/static_files.ts";

test("resolveUnderRoot maps paths under the root and refuses any that climb out of it", () => {
  assert.equal(resolveUnderRoot("/srv/www", "/"), "/srv/www");
  assert.equal(resolveUnderRoot("/srv/www/", "/a/b.txt"), "/srv/www/a/b.txt");
  assert.equal(resolveUnderRoot("/srv/www", "/a/./c/../b.txt"), "/srv/www/a/b.txt");
  assert.equal(resolveUnderRoot("/srv/www", "/a/.."), "/srv/www");
  assert.equal(resolveUnderRoot("/srv/www", "/.."), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a/../../etc/passwd"), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a\\..\\b"), null);
  assert.equal(resolveUnderRoot("/srv/www", "/a\0b"), null);
  assert.equal(resolveUnderRoot("/srv/www", "relative"), null);
});

test("parseRange handles first-last, open-ended and suffix ranges, clamps the end, and flags unsatisfiable ones", () => {
  assert.deepEqual(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-500", 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange("bytes=50-500", 100), { start: 50, end: 99 });
  assert.equal(parseRange("bytes=100-", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=5-1", 100), null);
  assert.equal(parseRange("bytes=0-1,5-6", 100), null);
  assert.equal(parseRange("items=0-1", 100), null);
});

test("contentTypeFor picks the type by extension, case-insensitively, with a binary default", () => {
  assert.equal(contentTypeFor("index.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("a/b.png"), "image/png");
  assert.equal(contentTypeFor("dir.v1/README"), "application/octet-stream");
  assert.equal(contentTypeFor("blob"), "application/octet-stream");
});

test("directoryListingHtml links each entry, marks directories, and escapes names", () => {
  const html = directoryListingHtml("/docs", [
    { name: "b.txt", isDirectory: false },
    { name: "<a>", isDirectory: true },
  ]);
  assert.match(html, /<title>\/docs\/<\/title>/);
  assert.match(html, /<a href="\.\.\/">\.\.\/<\/a>/);
  assert.match(html, /<a href="\/docs\/%3Ca%3E\/">&lt;a&gt;\/<\/a>/);
  assert.ok(html.indexOf("&lt;a&gt;") < html.indexOf("b.txt"), "sorted by name");
});
