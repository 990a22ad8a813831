// Shared by main.js (restore) and post.js (save): where an entry lives, and the action's inputs.
const fs = require("fs");
const path = require("path");

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const store = () => process.env.STANDIN_CACHE || "";
// One directory per key; characters a file name cannot hold are replaced (keys are hashes and prefixes).
const entry = (key) => path.join(store(), key.replace(/[^A-Za-z0-9._-]/g, "_"));
const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
const paths = () => input("path").split("\n").map((p) => p.trim()).filter(Boolean)
  .map((p) => path.resolve(workspace, p));
const append = (file, line) => fs.appendFileSync(process.env[file], `${line}\n`);

module.exports = { fs, path, input, store, entry, paths, append };
