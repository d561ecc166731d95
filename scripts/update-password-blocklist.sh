#!/usr/bin/env bash
# Regenerates internal/identity/password/blocklist.txt.gz from the common
# and breached password list in the @zxcvbn-ts/language-common npm package
# (ranked passwords from public breach corpora; MIT licence, copied beside
# the list). Entries of 4 or more characters are kept: whole passwords are
# at least 8 characters, but the check also looks up the word a password is
# built on ("welcome" in "Welcome12345678!", "letmein" in "l3tm31n2024!!"),
# so the shorter common words are needed too. Entries are lowercased because
# the check is case-insensitive. Site-specific words are added below.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Installed outside the repository so the assets' package.json is untouched.
npm install --prefix "$work" --no-save --no-audit --no-fund --loglevel=error @zxcvbn-ts/language-common@4.1.3
LIST="$work/node_modules/@zxcvbn-ts/language-common/src/passwords.json" node - <<'JS'
const fs = require("fs");
const zlib = require("zlib");
const list = require(process.env.LIST);
const extra = ["portico", "portico123", "password1234", "passw0rd1234", "correcthorsebatterystaple",
  "government", "governmentservices", "stateofexample"];
const keep = [...new Set([...list, ...extra].map((p) => p.toLowerCase()).filter((p) => [...p].length >= 4))].sort();
fs.writeFileSync("internal/identity/password/blocklist.txt.gz", zlib.gzipSync(keep.join("\n") + "\n", { level: 9 }));
console.log(`blocklist: ${keep.length} passwords`);
JS
cp "$work/node_modules/@zxcvbn-ts/language-common/LICENSE.txt" internal/identity/password/BLOCKLIST-LICENSE.txt
