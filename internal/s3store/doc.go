// Package s3store reads objects from S3-compatible object storage for the
// server: function bundles named s3://<bucket>/<key> (API.md "Functions,
// secrets, cron").
//
// The storage and its credentials are the operator's (server flags
// --s3-*), not the customer's, so a Store reads only from the buckets the
// operator listed: every customer may deploy any object of those buckets,
// and nothing else the credentials reach. Reads are bounded by the size the
// caller allows, checked on the object's metadata before any byte is read
// and again while reading.
//
// A failure the caller's reference caused (no such bucket or key, access
// denied, a bucket not listed, an object over the limit) is an
// *ObjectError whose message is safe to show; anything else (the storage
// unreachable, a 5xx) is a plain error worth retrying.
//
// It does not write objects, list buckets, or cache what it read; the
// client is github.com/minio/minio-go/v7.
package s3store
