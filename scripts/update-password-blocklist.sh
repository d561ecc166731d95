#!/usr/bin/env bash
# Regenerates internal/identity/password/blocklist.txt.gz from the common
# and breached password list in the @zxcvbn-ts/language-common npm package
# (ranked passwords from public breach corpora; MIT licence, copied beside
# the list). Only entries of 8 or more characters are kept, since shorter
# passwords are rejected by length anyway; entries are lowercased because
# the check is case-insensitive. Site-specific words are added below.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-save --no-audit --no-fund --loglevel=error @zxcvbn-ts/language-common@4.1.3
node - <<'JS'
const fs = require("fs");
const zlib = require("zlib");
const list = require("./node_modules/@zxcvbn-ts/language-common/src/passwords.json");
const extra = ["portico", "portico123", "password1234", "passw0rd1234", "correcthorsebatterystaple",
  "government", "governmentservices", "stateofexample"];
const keep = [...new Set([...list, ...extra].map((p) => p.toLowerCase()).filter((p) => [...p].length >= 8))].sort();
fs.writeFileSync("internal/identity/password/blocklist.txt.gz", zlib.gzipSync(keep.join("\n") + "\n", { level: 9 }));
console.log(`blocklist: ${keep.length} passwords`);
JS
cp node_modules/@zxcvbn-ts/language-common/LICENSE.txt internal/identity/password/BLOCKLIST-LICENSE.txt
