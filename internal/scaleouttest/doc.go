// Package scaleouttest holds the scale-out test (issue 14): three
// `portico serve` processes on one PostgreSQL database (on a server of the
// test's own when initdb and postgres are installed), NATS JetStream (a
// server of the test's own), an SMTP server and an S3-compatible object
// store (versitygw), behind nginx, driven through the proxy while replicas
// are killed and restarted and their dependencies stopped, restarted or
// crashed. It runs only with PORTICO_TEST_SCALEOUT=1 (.ci/run sets it for
// the README's command); docs/operations.md, "The scale-out test", records
// what it proves.
package scaleouttest
