package layout

import (
	"path/filepath"
	"strconv"
)

// Port is the port number every cluster's socket file is named after
// (.s.PGSQL.<Port>): clusters listen on a Unix socket only, each in a
// directory of its own, so they all keep PostgreSQL's default.
const Port = 5432

// Layout is the platform's data directory and the paths under it.
type Layout struct {
	DataDir string
}

// Cluster is where one PostgreSQL cluster lives: its directory, the data
// directory inside it and the directory of its Unix socket.
type Cluster struct {
	Dir       string // the cluster's own directory
	Data      string // the PostgreSQL data directory (Dir/pgdata)
	SocketDir string // the directory of its Unix socket (Dir/s), kept short
}

// ClusterAt is the layout of a cluster in dir: dir/pgdata and dir/s.
func ClusterAt(dir string) Cluster {
	return Cluster{Dir: dir, Data: filepath.Join(dir, "pgdata"), SocketDir: filepath.Join(dir, "s")}
}

// SocketPath is the path of the cluster's Unix socket file.
func (c Cluster) SocketPath() string { return SocketPath(c.SocketDir) }

// SocketPath is the path of the socket file of a cluster listening in
// socketDir.
func SocketPath(socketDir string) string {
	return filepath.Join(socketDir, ".s.PGSQL."+strconv.Itoa(Port))
}

// DBs is the directory holding one directory per database.
func (l Layout) DBs() string { return filepath.Join(l.DataDir, "dbs") }

// DB is the cluster of database id.
func (l Layout) DB(id string) Cluster { return ClusterAt(filepath.Join(l.DBs(), id)) }

// Archive is the root of the WAL archive (one directory per database
// inside, laid out by walarchive).
func (l Layout) Archive() string { return filepath.Join(l.DataDir, "archive") }

// Golden is the golden data directory of a PostgreSQL major version.
func (l Layout) Golden(major int) string {
	return filepath.Join(l.DataDir, "golden", strconv.Itoa(major))
}

// GoldenSocketDir is the socket directory of the golden cluster while it
// is being built.
func (l Layout) GoldenSocketDir() string { return filepath.Join(l.DataDir, "golden", "s") }

// Spares is the directory of the ready copies of the golden directory.
func (l Layout) Spares() string { return filepath.Join(l.DataDir, "spare") }

// Spare is the cluster of spare copy id (its directory is renamed into
// DB(id) when taken).
func (l Layout) Spare(id string) Cluster { return ClusterAt(filepath.Join(l.Spares(), id)) }

// Catalog is the cluster of the managed catalog.
func (l Layout) Catalog() Cluster { return ClusterAt(filepath.Join(l.DataDir, "catalog")) }

// Bin is where a copy of the db9 binary goes when the OS user of postgres
// cannot reach the original (it runs it as archive_command).
func (l Layout) Bin() string { return filepath.Join(l.DataDir, "bin") }

// RunJournal is the directory of the server's journal of function runs in
// progress (package runjournal).
func (l Layout) RunJournal() string { return filepath.Join(l.DataDir, "run-journal") }
