// Restore: the exact key, else the newest entry whose key starts with a restore-key (as actions/cache does).
const { fs, path, input, store, entry, paths, append } = require("./common.js");

const key = input("key");
append("GITHUB_STATE", `key=${key}`);
let found = "";
if (store() && fs.existsSync(entry(key))) {
  found = key;
} else if (store() && fs.existsSync(store())) {
  for (const prefix of input("restore-keys").split("\n").map((k) => k.trim()).filter(Boolean)) {
    const stem = path.basename(entry(prefix));
    const hits = fs.readdirSync(store()).filter((name) => name.startsWith(stem))
      .map((name) => ({ name, time: fs.statSync(path.join(store(), name)).mtimeMs }))
      .sort((a, b) => b.time - a.time);
    if (hits.length) { found = hits[0].name; break; }
  }
}
if (found) {
  const from = found === key ? entry(key) : path.join(store(), found);
  for (const [i, target] of paths().entries()) {
    const saved = path.join(from, String(i));
    if (fs.existsSync(saved)) fs.cpSync(saved, target, { recursive: true });
  }
}
append("GITHUB_STATE", `hit=${found === key}`);
append("GITHUB_OUTPUT", `cache-hit=${found === key}`);
console.log(`cache stand-in: ${found ? `restored ${found}` : `miss for ${key}`}`);
