// Portico site-specific JavaScript, loaded after uswds/js/uswds.min.js.
//
// Pages work without JavaScript; this file may only add progressive
// enhancements. Inline <script> blocks and on* attributes are forbidden by the
// Content-Security-Policy (script-src 'self'), so behaviour belongs here.
"use strict";
