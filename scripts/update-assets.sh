#!/usr/bin/env bash
# update-assets.sh refreshes the USWDS files embedded in the Portico binary.
#
# It installs the npm packages pinned in package-lock.json and copies from
# node_modules/@uswds/uswds/dist only what a server-rendered page needs into
# internal/web/assets/uswds/:
#
#   css/uswds.min.css, js/uswds.min.js, js/uswds-init.min.js,
#   every font and image that uswds.min.css references with url(...),
#   a few images our templates use directly (banner flag, icons, sprite,
#   favicon),
#   and the USWDS LICENSE.md.
#
# The result is committed to git so that `go build` needs nothing but Go.
# To move to a new USWDS release: bump the version in package.json, run
# `npm install` to update package-lock.json, then run this script and
# `go test ./internal/web/assets/`.
#
# Usage: scripts/update-assets.sh   (from anywhere inside the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -f package-lock.json ]]; then
	npm ci --no-audit --no-fund
else
	npm install --no-audit --no-fund
fi

dist="$root/node_modules/@uswds/uswds/dist"
pkg="$root/node_modules/@uswds/uswds"
dest="$root/internal/web/assets/uswds"

if [[ ! -f "$dist/css/uswds.min.css" ]]; then
	echo "update-assets: $dist/css/uswds.min.css not found; is @uswds/uswds installed?" >&2
	exit 1
fi

# Start from an empty directory so files dropped upstream do not linger.
rm -rf "$dest"
mkdir -p "$dest"

copy() { # copy REL: copy $dist/REL to $dest/REL, keeping the relative path.
	local rel="$1"
	if [[ ! -f "$dist/$rel" ]]; then
		echo "update-assets: missing $dist/$rel" >&2
		exit 1
	fi
	mkdir -p "$dest/$(dirname "$rel")"
	cp "$dist/$rel" "$dest/$rel"
}

copy css/uswds.min.css
copy js/uswds.min.js
copy js/uswds-init.min.js

# Fonts and images referenced by the stylesheet. url() values are relative to
# css/; skip empty url() (used in @supports tests), data: URIs, absolute URLs
# and fragments, and drop any ?query or #fragment suffix.
refs="$(grep -oE 'url\([^)]*\)' "$dist/css/uswds.min.css" |
	sed -E 's/^url\(//; s/\)$//; s/^[[:space:]]*["'\'']?//; s/["'\'']?[[:space:]]*$//' |
	grep -vE '^$|^data:|^[a-zA-Z][a-zA-Z0-9+.-]*:|^//|^#' |
	sed -E 's/[?#].*$//' |
	sort -u)"
n=0
while IFS= read -r ref; do
	[[ -n "$ref" ]] || continue
	rel="$(realpath -m --relative-to="$dist" "$dist/css/$ref")"
	case "$rel" in
	../*) echo "update-assets: url($ref) points outside dist/" >&2; exit 1 ;;
	esac
	copy "$rel"
	n=$((n + 1))
done <<<"$refs"

# Images used directly by Portico's templates (USWDS banner, close button),
# and a default favicon (browsers request /favicon.ico on every site).
copy img/us_flag_small.png
copy img/icon-dot-gov.svg
copy img/icon-https.svg
copy img/usa-icons/close.svg
copy img/favicons/favicon.ico
copy img/favicons/favicon.png
if [[ -f "$dist/img/sprite.svg" ]]; then
	copy img/sprite.svg
fi

cp "$pkg/LICENSE.md" "$dest/LICENSE.md"

version="$(node -p 'require("./node_modules/@uswds/uswds/package.json").version')"
echo "update-assets: USWDS $version: copied $n stylesheet references; $(find "$dest" -type f | wc -l) files, $(du -sh "$dest" | cut -f1) in ${dest#"$root"/}"

# The precompressed copies (.br, .gz) the server sends (ADR 0024).
(cd "$root" && go generate ./internal/web/assets)
