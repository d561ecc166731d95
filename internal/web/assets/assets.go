// Package assets holds the static files that Portico serves to browsers,
// embedded in the binary so that a deployment is a single file.
//
// The uswds/ tree is a trimmed copy of the U.S. Web Design System as
// published in the @uswds/uswds npm package (version pinned in the
// repository's package-lock.json). It is produced by scripts/update-assets.sh,
// which copies css/uswds.min.css, js/uswds.min.js, js/uswds-init.min.js, the
// fonts and images that the stylesheet references with url(...), a few images
// used directly by templates (the banner flag and icons, the icon sprite, the
// default favicon) and the USWDS LICENSE.md. Do not edit files under uswds/
// by hand: bump the version in package.json, run `npm install`, then
// scripts/update-assets.sh.
//
// portico.css and portico.js are Portico's own, small, site-specific
// additions. Pages must not use inline <style>, style="" or <script> blocks:
// the Content-Security-Policy allows styles and scripts only from 'self'.
//
// Paths in FS are relative to this directory, for example
// "uswds/css/uswds.min.css", "uswds/js/uswds.min.js", "portico.css".
//
// Beside each compressible file (CSS, JavaScript, SVG, icons) are its
// precompressed copies NAME.br and NAME.gz, made by ./gen and committed, so
// the server sends them without compressing anything at run time (ADR
// 0024). After changing any asset, run
//
//	go generate ./internal/web/assets
//
// (a test in ./gen fails while a committed copy is stale).
package assets

import "embed"

//go:generate go run ./gen

// FS contains uswds/, portico.css, portico.js and report.js, and their .br and .gz
// copies.
//
//go:embed uswds portico.* report.*
var FS embed.FS
