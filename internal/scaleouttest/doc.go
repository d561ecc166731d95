// Package scaleouttest holds the scale-out test (issue 14): three
// `portico serve` processes on one PostgreSQL database, NATS JetStream, an
// SMTP server and (when installed) an S3-compatible object store, behind
// nginx, driven through the proxy while replicas are killed, restarted and
// their dependencies stopped. It runs only with PORTICO_TEST_SCALEOUT=1
// (.ci/run sets it in its own step); docs/operations.md, "Three replicas",
// records what it proved.
package scaleouttest
