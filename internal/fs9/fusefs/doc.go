// Package fusefs mounts a database's fs9 files as a local directory through
// FUSE (github.com/hanwen/go-fuse/v2), speaking fs9's WebSocket protocol
// through package wsclient.
//
// fs9 replaces a file whole in one transaction, so a file opened for
// writing is buffered in memory (up to fs9's 100 MiB per file) and written
// whole when it is flushed (close, fsync) or released: other readers see
// the old content or the new, never a half-written file. Reads of a file
// not opened for writing fetch ranges. Attributes and directory entries are
// cached by the kernel for a short time (Config.CacheTimeout), so a change
// made through SQL or another client shows within that time; failed
// lookups are not cached, so a new file shows at once.
//
// The connection is dialed again when the server closed it (idle timeout,
// restart); a request cut off that way is sent once more, which for a
// rename or mkdir can answer ENOENT or EEXIST although it took effect.
//
// It does not know how credentials are obtained: Config.Dial does.
package fusefs
