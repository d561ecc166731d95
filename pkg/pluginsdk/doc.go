// Package pluginsdk is what a Go plug-in of Portico needs to trust the
// platform: it verifies the short-lived token Portico's gateway sends with
// every call and reads the personal data the person consented to share,
// and it verifies and decodes the events Portico delivers by webhook.
// Package pluginsdktest runs a fake Portico for a plug-in's own tests.
//
// The protocol it implements is described language-neutrally in Portico's
// docs/plugins.md ("The protocol"); this package is a convenience, not a
// requirement: a plug-in in any language can do the same with a JOSE and
// an HMAC library.
//
// # Calls
//
// Every call carries "Authorization: Bearer TOKEN", a JWT signed with
// Portico's OpenID Provider keys. A Verifier fetches the keys the issuer's
// discovery document names (ISSUER/.well-known/openid-configuration →
// jwks_uri), caches them, fetches them again when a token names a key it
// does not know (at most once a minute), accepts ES256 and RS256 only, and
// checks iss, aud (your plug-in id), exp, nbf, iat and a lifetime of at most
// five minutes, with 30 seconds of clock skew. Its Middleware answers 401
// with a problem+json body when the token is missing or wrong, and puts the
// verified Claims in the request's context (ClaimsFrom).
//
// # Events
//
// Portico posts events as CloudEvents 1.0 in structured mode
// (Content-Type: application/cloudevents+json), signed the Standard
// Webhooks way with the whsec_ secret shown once when the plug-in was
// registered. VerifyWebhook checks the signature and the timestamp;
// WebhookHandler verifies, decodes an Event and calls your function,
// turning its error into the answer Portico understands (ErrGone → 410,
// RetryAfter → 429 with Retry-After, anything else → 500, retried later).
// Delivery is at least once: the same Event.ID may arrive again.
//
// The package imports nothing of Portico's internals; its dependencies
// are go-jose (tokens) and the Standard Webhooks reference library
// (signatures).
package pluginsdk
