package fusefs

import (
	"context"
	"path"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/db9/db9/internal/fs9/wsclient"
)

// node is one file, directory or symlink of the mount.
type node struct {
	gofs.Inode
	m *Mount

	mu      sync.Mutex
	writers map[*handle]struct{} // open for writing: their buffers are the newest content
	// listing is the last readdir of a directory, so the lookups that
	// follow it (readdirplus, ls -l) cost no further requests.
	listing  map[string]wsclient.Info
	listedAt time.Time
}

var (
	_ gofs.NodeLookuper   = (*node)(nil)
	_ gofs.NodeGetattrer  = (*node)(nil)
	_ gofs.NodeSetattrer  = (*node)(nil)
	_ gofs.NodeReaddirer  = (*node)(nil)
	_ gofs.NodeOpener     = (*node)(nil)
	_ gofs.NodeCreater    = (*node)(nil)
	_ gofs.NodeMkdirer    = (*node)(nil)
	_ gofs.NodeUnlinker   = (*node)(nil)
	_ gofs.NodeRmdirer    = (*node)(nil)
	_ gofs.NodeRenamer    = (*node)(nil)
	_ gofs.NodeSymlinker  = (*node)(nil)
	_ gofs.NodeReadlinker = (*node)(nil)
	_ gofs.NodeStatfser   = (*node)(nil)
)

// path is the node's fs9 path; ok is false for a node no longer in the
// tree (unlinked while open).
func (n *node) path() (p string, ok bool) {
	var segs []string
	in := &n.Inode
	for !in.IsRoot() {
		name, parent := in.Parent()
		if parent == nil {
			return "", false
		}
		segs = append(segs, name)
		in = parent
	}
	p = "/"
	for i := len(segs) - 1; i >= 0; i-- {
		p = path.Join(p, segs[i])
	}
	return p, true
}

func (n *node) child(name string) (string, syscall.Errno) {
	p, ok := n.path()
	if !ok {
		return "", syscall.ENOENT
	}
	return path.Join(p, name), 0
}

func opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, opTimeout)
}

// typeBits is the S_IFMT part of a mode for an fs9 type.
func typeBits(t string) uint32 {
	switch t {
	case "dir":
		return syscall.S_IFDIR
	case "symlink":
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// fill sets attributes from fs9's file info.
func (m *Mount) fill(out *fuse.Attr, info wsclient.Info) {
	out.Mode = typeBits(info.Type) | uint32(info.Mode)&0o7777
	out.Size = uint64(info.Size)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 4096
	out.Nlink = 1
	if info.Type == "dir" {
		out.Nlink = 2
	}
	if t, err := time.Parse(time.RFC3339, info.Mtime); err == nil {
		out.SetTimes(&t, &t, &t)
	}
	out.Uid, out.Gid = m.uid, m.gid
}

// forget drops the cached listing: the directory changed.
func (n *node) forget() {
	n.mu.Lock()
	n.listing = nil
	n.mu.Unlock()
}

// forgetParent drops the listing of the directory holding n.
func forgetParent(n *node) {
	if _, p := n.Parent(); p != nil {
		if pn, ok := p.Operations().(*node); ok {
			pn.forget()
		}
	}
}

// newChild returns the inode for a looked-up entry: the known one when the
// type matches, so open handles keep being found.
func (n *node) newChild(ctx context.Context, name string, info wsclient.Info, out *fuse.EntryOut) *gofs.Inode {
	n.m.fill(&out.Attr, info)
	mode := typeBits(info.Type)
	if ch := n.GetChild(name); ch != nil && ch.StableAttr().Mode == mode {
		if cn, ok := ch.Operations().(*node); ok {
			cn.bufferedSize(&out.Attr, nil)
		}
		return ch
	}
	return n.NewInode(ctx, &node{m: n.m}, gofs.StableAttr{Mode: mode})
}

// Lookup stats a directory entry.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	p, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	n.mu.Lock()
	info, ok := n.listing[name]
	ok = ok && time.Since(n.listedAt) < n.m.cfg.CacheTimeout
	n.mu.Unlock()
	if !ok {
		ctx, cancel := opCtx(ctx)
		defer cancel()
		var err error
		if info, err = n.m.r.stat(ctx, p); err != nil {
			return nil, toErrno(err)
		}
	}
	return n.newChild(ctx, name, info, out), 0
}

// bufferedSize reports the size of content written but not yet flushed:
// f's when it is one of n's handles, else the newest open writer's.
func (n *node) bufferedSize(out *fuse.Attr, f gofs.FileHandle) {
	if h, ok := f.(*handle); ok {
		if size, ok := h.size(); ok {
			out.Size = uint64(size)
			return
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.writers {
		if size, ok := h.size(); ok {
			out.Size = uint64(size)
		}
	}
}

// Getattr stats the node (fstat included).
func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, ok := n.path()
	if !ok {
		if h, isH := f.(*handle); isH {
			size, _ := h.size()
			out.Mode, out.Size, out.Nlink = syscall.S_IFREG|0o644, uint64(size), 0
			return 0
		}
		return syscall.ENOENT
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	info, err := n.m.r.stat(ctx, p)
	if err != nil {
		return toErrno(err)
	}
	n.m.fill(&out.Attr, info)
	n.bufferedSize(&out.Attr, f)
	return 0
}

// Setattr changes size (truncate, ftruncate) and mode; times and owners
// are not kept by fs9 and are accepted without effect, so tools like
// touch and cp -p work.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.m.cfg.ReadOnly {
		return syscall.EROFS
	}
	p, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if size, ok := in.GetSize(); ok {
		if h, isH := f.(*handle); isH && h.writable {
			if errno := h.truncate(ctx, int64(size)); errno != 0 {
				return errno
			}
		} else if err := n.m.r.call(ctx, "truncate", map[string]any{"path": p, "size": size}, nil); err != nil {
			return toErrno(err)
		}
		forgetParent(n)
	}
	if mode, ok := in.GetMode(); ok {
		if err := n.m.r.call(ctx, "chmod", map[string]any{"path": p, "mode": mode & 0o7777}, nil); err != nil {
			return toErrno(err)
		}
		forgetParent(n)
	}
	return n.Getattr(ctx, f, out)
}

// Readdir lists a directory, keeping the listing for the lookups that
// follow.
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	p, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	es, err := n.m.r.readDir(ctx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	list := make([]fuse.DirEntry, 0, len(es))
	listing := make(map[string]wsclient.Info, len(es))
	for _, e := range es {
		name := path.Base(e.Path)
		listing[name] = e
		list = append(list, fuse.DirEntry{Name: name, Mode: typeBits(e.Type)})
	}
	n.mu.Lock()
	n.listing, n.listedAt = listing, time.Now()
	n.mu.Unlock()
	return gofs.NewListDirStream(list), 0
}

const writeFlags = syscall.O_WRONLY | syscall.O_RDWR | syscall.O_TRUNC | syscall.O_APPEND

// Open opens a file; one opened for writing buffers its content.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&writeFlags != 0 && n.m.cfg.ReadOnly {
		return nil, 0, syscall.EROFS
	}
	h := newHandle(n, flags)
	if h.writable && flags&syscall.O_TRUNC != 0 {
		h.setBuf(nil)
		h.dirty = true
	}
	return h, 0, 0
}

// newHandle opens a handle on n; a writer is registered so stat sees its
// buffered size.
func newHandle(n *node, flags uint32) *handle {
	h := &handle{n: n, mu: make(chanMutex, 1), writable: flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0,
		append: flags&syscall.O_APPEND != 0}
	if h.writable {
		n.mu.Lock()
		if n.writers == nil {
			n.writers = map[*handle]struct{}{}
		}
		n.writers[h] = struct{}{}
		n.mu.Unlock()
	}
	return h
}

// Create makes an empty file at once (so others see it exists) and opens
// it for writing.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if n.m.cfg.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	p, errno := n.child(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if err := n.m.r.call(ctx, "write", map[string]any{"path": p, "content": "", "encoding": "base64", "mode": mode & 0o7777}, nil); err != nil {
		return nil, nil, 0, toErrno(err)
	}
	n.forget()
	info, err := n.m.r.stat(ctx, p)
	if err != nil {
		return nil, nil, 0, toErrno(err)
	}
	ch := n.newChild(ctx, name, info, out)
	h := newHandle(ch.Operations().(*node), flags|syscall.O_TRUNC)
	h.setBuf(nil)
	return ch, h, 0, 0
}

// Mkdir makes a directory.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.cfg.ReadOnly {
		return nil, syscall.EROFS
	}
	p, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if err := n.m.r.call(ctx, "mkdir", map[string]any{"path": p, "mode": mode & 0o7777}, nil); err != nil {
		return nil, toErrno(err)
	}
	n.forget()
	info, err := n.m.r.stat(ctx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	return n.newChild(ctx, name, info, out), 0
}

// Unlink removes a file or symlink.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, "unlink", map[string]any{})
}

// Rmdir removes an empty directory.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, "rm", map[string]any{"recursive": false})
}

func (n *node) remove(ctx context.Context, name, op string, args map[string]any) syscall.Errno {
	if n.m.cfg.ReadOnly {
		return syscall.EROFS
	}
	p, errno := n.child(name)
	if errno != 0 {
		return errno
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	args["path"] = p
	n.forget()
	return toErrno(n.m.r.call(ctx, op, args, nil))
}

// renameNoReplace and renameExchange are renameat2's flags.
const (
	renameNoReplace = 1
	renameExchange  = 2
)

// Rename moves an entry; fs9 replaces an existing target like rename(2).
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.m.cfg.ReadOnly {
		return syscall.EROFS
	}
	if flags&renameExchange != 0 {
		return syscall.EINVAL // fs9 has no atomic exchange
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	from, errno := n.child(name)
	if errno != 0 {
		return errno
	}
	to, errno := np.child(newName)
	if errno != 0 {
		return errno
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if flags&renameNoReplace != 0 {
		if _, err := n.m.r.stat(ctx, to); err == nil {
			return syscall.EEXIST
		}
	}
	n.forget()
	np.forget()
	return toErrno(n.m.r.call(ctx, "rename", map[string]any{"old_path": from, "new_path": to}, nil))
}

// Symlink makes a symlink to target.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.m.cfg.ReadOnly {
		return nil, syscall.EROFS
	}
	p, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	if err := n.m.r.call(ctx, "symlink", map[string]any{"path": p, "target": target}, nil); err != nil {
		return nil, toErrno(err)
	}
	n.forget()
	info, err := n.m.r.stat(ctx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	return n.newChild(ctx, name, info, out), 0
}

// Readlink reads a symlink's target.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	p, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	ctx, cancel := opCtx(ctx)
	defer cancel()
	var v struct {
		Target string `json:"target"`
	}
	if err := n.m.r.call(ctx, "readlink", map[string]any{"path": p}, &v); err != nil {
		return nil, toErrno(err)
	}
	return []byte(v.Target), 0
}

// Statfs answers df and the programs that check free space first: fs9
// has no fixed capacity, so it reports plenty (the database's storage
// quota is what limits it).
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 30 // 4 TiB of 4 KiB blocks
	out.Bsize, out.Frsize, out.NameLen = 4096, 4096, 255
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<32, 1<<32
	return 0
}
