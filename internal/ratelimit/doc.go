// Package ratelimit limits requests per key with token buckets (rps, burst)
// and writes the answers of a limited API: RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset on every response, 429 with
// Retry-After when the bucket is empty.
//
// Memory is bounded: buckets idle long enough to have refilled are dropped
// (losing nothing, a full bucket is what a new one is), and past MaxKeys
// the least recently used go first.
//
// It does not know what a key is; callers pass a stable id (a publishable
// key's id, not the key itself).
package ratelimit
