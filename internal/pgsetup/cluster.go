package pgsetup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
)

// ErrNoServerBinaries is wrapped by FindServerBinaries when no PostgreSQL server is installed.
var ErrNoServerBinaries = errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found")

// serverBinaryGlobs are the places packagers put versioned server binaries, in order of
// preference; within one pattern the newest version wins.
var serverBinaryGlobs = []string{
	"/usr/lib/postgresql/*/bin",                       // Debian, Ubuntu
	"/usr/pgsql-*/bin",                                // PGDG RPMs
	"/opt/homebrew/opt/postgresql@*/bin",              // Homebrew, Apple silicon
	"/usr/local/opt/postgresql@*/bin",                 // Homebrew, Intel
	"/home/linuxbrew/.linuxbrew/opt/postgresql@*/bin", // Homebrew on Linux
}

var versionInPath = regexp.MustCompile(`(?:postgresql/|pgsql-|postgresql@)(\d+)`)

// FindServerBinaries returns the directory holding initdb, pg_ctl and postgres and their
// major version: the newest in the packagers' places, then the first on PATH.
func FindServerBinaries() (dir string, version int, err error) {
	return findServerBinaries(0)
}

// findServerBinaries is FindServerBinaries limited to one major version when want > 0, as a
// data directory only runs under the major version that created it.
func findServerBinaries(want int) (string, int, error) {
	hasAll := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	for _, pattern := range serverBinaryGlobs {
		dirs, _ := filepath.Glob(pattern) // only ErrBadPattern, impossible for these constants
		type cand struct {
			dir string
			v   int
		}
		var cands []cand
		for _, d := range dirs {
			m := versionInPath.FindStringSubmatch(d)
			if m == nil {
				continue
			}
			v, _ := strconv.Atoi(m[1])
			if (want == 0 || v == want) && hasAll(d) {
				cands = append(cands, cand{d, v})
			}
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].v > cands[j].v })
		if len(cands) > 0 {
			return cands[0].dir, cands[0].v, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dir := filepath.Dir(p)
		if hasAll(dir) {
			v, err := binaryVersion(filepath.Join(dir, "postgres"))
			if err == nil && (want == 0 || v == want) {
				return dir, v, nil
			}
		}
	}
	where := strings.Join(serverBinaryGlobs, ", ") + " or PATH"
	if want > 0 {
		return "", 0, fmt.Errorf("%w for PostgreSQL %d in %s: install PostgreSQL %d's server (e.g. sudo apt install postgresql-%d, or brew install postgresql@%d)", ErrNoServerBinaries, want, where, want, want, want)
	}
	return "", 0, fmt.Errorf("%w in %s: install PostgreSQL's server (e.g. sudo apt install postgresql, or brew install postgresql@17)", ErrNoServerBinaries, where)
}

// binaryVersion runs `postgres --version` ("postgres (PostgreSQL) 15.8") for the major version.
func binaryVersion(postgres string) (int, error) {
	out, err := exec.Command(postgres, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", postgres, err)
	}
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s --version: unexpected output %q", postgres, bytes.TrimSpace(out))
	}
	return strconv.Atoi(string(m[1]))
}

// Cluster is a private PostgreSQL cluster for one OS user, reachable only through a Unix
// socket in a directory only that user can enter. Create it with NewCluster.
type Cluster struct {
	DataDir   string // PGDATA
	SocketDir string // where the server's socket goes; NewCluster picks one short enough
	Port      int    // names the socket file; no TCP port is opened [5432]
	SuperUser string // bootstrap superuser role [postgres]
	Role      string // Mathesar's role [mathesar]
	Database  string // Mathesar's database [mathesar_django]
	BinDir    string // server binaries; empty means FindServerBinaries (matching the data dir's version)
	NoSync    bool   // skip initdb's fsync (tests only)

	// startedHere records whether Start launched the server, so Stop never stops a server
	// another Mathesar process started and still uses.
	startedHere bool
}

// DefaultDataDir is $XDG_DATA_HOME/mathesar/pgdata (XDG_DATA_HOME defaulting to
// ~/.local/share).
func DefaultDataDir() (string, error) {
	base := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(base) { // the XDG spec says to ignore relative values
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home directory for the database: %w; set XDG_DATA_HOME or HOME", err)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "mathesar", "pgdata"), nil
}

// NewCluster describes a cluster in dataDir with the defaults. Its socket directory is
// dataDir/../run unless that path is too long for a socket address, in which case a
// directory under /tmp is used (see socketDirFor).
func NewCluster(dataDir string) (*Cluster, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
	}
	c := &Cluster{DataDir: abs, Port: DefaultPort, SuperUser: "postgres", Role: DefaultRole, Database: DefaultDatabase}
	c.SocketDir = socketDirFor(abs, c.Port)
	return c, nil
}

// maxSocketPath is the longest socket path the kernel accepts: sun_path holds 108 bytes on
// Linux and 104 on macOS and the BSDs, including the terminating NUL.
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// socketDirFor picks dataDir/../run, or, when the socket path would not fit in sun_path
// (deep home directories do this), /tmp/mathesar-pg-UID. /tmp rather than $TMPDIR because
// macOS's $TMPDIR is itself about 50 bytes long.
func socketDirFor(dataDir string, port int) string {
	dir := filepath.Join(filepath.Dir(dataDir), "run")
	if len(filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))) <= maxSocketPath() {
		return dir
	}
	return filepath.Join("/tmp", "mathesar-pg-"+strconv.Itoa(os.Getuid()))
}

func (c *Cluster) logFile() string { return filepath.Join(c.DataDir, "log", "server.log") }

func (c *Cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION"))
	return err == nil
}

func (c *Cluster) dataVersion() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "PG_VERSION"))
	if err != nil {
		return 0, fmt.Errorf("read cluster version: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read cluster version in %s: %w", c.DataDir, err)
	}
	return v, nil
}

// binDir returns the server binaries that can run this cluster.
func (c *Cluster) binDir() (string, error) {
	if c.BinDir != "" {
		return c.BinDir, nil
	}
	want := 0
	if c.initialised() {
		v, err := c.dataVersion()
		if err != nil {
			return "", err
		}
		want = v
	}
	dir, _, err := findServerBinaries(want)
	if err != nil {
		return "", fmt.Errorf("cluster in %s: %w", c.DataDir, err)
	}
	c.BinDir = dir
	return dir, nil
}

// peerAuth reports whether PostgreSQL can tell who is on the other end of a Unix socket
// here (SO_PEERCRED or getpeereid).
func peerAuth() bool {
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "openbsd", "netbsd", "dragonfly", "solaris", "illumos":
		return true
	}
	return false
}

// Init creates the cluster if DataDir holds none; an existing cluster is left as it is.
// initdb writes into a sibling directory that is renamed into place only when complete.
//
// Authentication: the server listens on no TCP address at all, only on a socket in a 0700
// directory, so only this OS user (and root) can even reach it. On top of that, where the
// kernel can name the peer of a socket, pg_hba.conf uses peer authentication with a map that
// lets exactly this OS user in as the superuser and as Mathesar's role; elsewhere it uses
// trust, and the 0700 socket directory is the whole protection.
func (c *Cluster) Init(ctx context.Context) error {
	if c.initialised() {
		return nil
	}
	if os.Geteuid() == 0 {
		return errors.New("a private PostgreSQL cluster cannot run as root: run mathesar as a normal user, or set up the system database with `sudo mathesar setup`")
	}
	if entries, err := os.ReadDir(c.DataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away, or choose another data directory", c.DataDir)
	}
	bin, err := c.binDir()
	if err != nil {
		return err
	}
	me, err := user.Current()
	if err != nil {
		return fmt.Errorf("look up the current OS user: %w", err)
	}
	if strings.ContainsAny(me.Username, "\"\n") {
		return fmt.Errorf("OS user name %q cannot be written in pg_ident.conf", me.Username)
	}
	if err := os.MkdirAll(filepath.Dir(c.DataDir), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(c.DataDir), err)
	}
	tmp := c.DataDir + ".initdb-tmp"
	if err := os.RemoveAll(tmp); err != nil { // left by an interrupted Init
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	method := "trust"
	if peerAuth() {
		method = "peer"
	}
	// The C locale exists everywhere and sorts deterministically; UTF8 is what Mathesar needs.
	args := []string{"-D", tmp, "-U", c.SuperUser, "-E", "UTF8", "--locale=C",
		"--auth-local=" + method, "--auth-host=reject", "--no-instructions"}
	if c.NoSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("initdb in %s: %w: %s", tmp, err, bytes.TrimSpace(out))
	}
	files := map[string]string{
		"pg_hba.conf": "# Written by mathesar. The server listens only on a Unix socket in a 0700 directory.\n" +
			"# TYPE DATABASE USER METHOD\n",
		"pg_ident.conf": "# Written by mathesar: the cluster's owner may log in as these roles.\n",
		"mathesar.conf": "", // written by Start
	}
	if method == "peer" {
		files["pg_hba.conf"] += "local all all peer map=mathesar\n"
		for _, role := range []string{c.SuperUser, c.Role} {
			files["pg_ident.conf"] += fmt.Sprintf("mathesar \"%s\" \"%s\"\n", me.Username, role)
		}
	} else {
		files["pg_hba.conf"] += "local all all trust\n"
	}
	for name, body := range files {
		if err := atomicfile.WriteFile(filepath.Join(tmp, name), []byte(body), 0o600); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	conf, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = conf.WriteString("\n# Socket and listening settings, rewritten by mathesar at each start.\ninclude_if_exists = 'mathesar.conf'\n")
		if cerr := conf.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extend postgresql.conf in %s: %w", tmp, err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "log"), 0o700); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("create log directory: %w", err)
	}
	if err := os.Rename(tmp, c.DataDir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("move the new cluster into %s: %w", c.DataDir, err)
	}
	return nil
}

// pidFile is what postmaster.pid says about a server: its pid, port and first socket directory.
type pidFile struct {
	pid       int
	port      int
	socketDir string
}

func (c *Cluster) readPidFile() (pidFile, error) {
	f, err := os.Open(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, err
	}
	defer f.Close()
	// Lines: pid, data dir, start time, port, socket dir, listen address, shm key, status.
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 5 {
		return pidFile{}, fmt.Errorf("postmaster.pid in %s is incomplete", c.DataDir)
	}
	var p pidFile
	p.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	p.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	p.socketDir = strings.TrimSpace(lines[4])
	return p, nil
}

// Running reports whether a server runs on this data directory and answers on its socket.
// A postmaster.pid left by a crash, or whose pid now belongs to another program, does not count.
func (c *Cluster) Running() bool {
	p, err := c.readPidFile()
	if err != nil || !processAlive(p.pid) || p.socketDir == "" {
		return false
	}
	conn, err := net.DialTimeout("unix", filepath.Join(p.socketDir, ".s.PGSQL."+strconv.Itoa(p.port)), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Reused reports whether Start found the server already running (then Stop leaves it running).
func (c *Cluster) Reused() bool { return !c.startedHere }

// Start starts the cluster (after Init) or adopts one already running on DataDir, then makes
// sure Role and Database exist. A server already running keeps its socket directory and port.
func (c *Cluster) Start(ctx context.Context) error {
	if !c.initialised() {
		return fmt.Errorf("no PostgreSQL cluster in %s: run `mathesar setup` to create it", c.DataDir)
	}
	if c.Running() {
		p, err := c.readPidFile()
		if err != nil {
			return fmt.Errorf("read postmaster.pid: %w", err)
		}
		c.SocketDir, c.Port, c.startedHere = p.socketDir, p.port, false
		return c.bootstrap(ctx)
	}
	bin, err := c.binDir()
	if err != nil {
		return err
	}
	if err := ensurePrivateDir(c.SocketDir); err != nil {
		return err
	}
	conf := fmt.Sprintf("listen_addresses = ''\nunix_socket_directories = '%s'\nport = %d\n",
		strings.ReplaceAll(c.SocketDir, "'", "''"), c.Port)
	if err := atomicfile.WriteFile(filepath.Join(c.DataDir, "mathesar.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.logFile()), 0o700); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "start", "-w", "-t", "60", "-s",
		"-D", c.DataDir, "-l", c.logFile())
	detach(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start PostgreSQL in %s: %w: %s\nlast lines of %s:\n%s",
			c.DataDir, err, bytes.TrimSpace(out), c.logFile(), tail(c.logFile(), 10))
	}
	c.startedHere = true
	return c.bootstrap(ctx)
}

// ensurePrivateDir creates dir with mode 0700, or checks that an existing one is a real
// directory of ours and tightens it to 0700: under /tmp another user could have made it first.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", dir, err)
	}
	if !fi.IsDir() || !ownedByMe(fi) {
		return fmt.Errorf("socket directory %s is not a directory owned by this user: remove it, or choose another data directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make socket directory %s private: %w", dir, err)
	}
	return nil
}

func (c *Cluster) bootstrap(ctx context.Context) error {
	ci := &ConnInfo{Host: c.SocketDir, Port: c.Port, User: c.SuperUser, Database: "postgres", SSLMode: "disable"}
	conn, err := connect(ctx, ci, connectTimeout)
	if err != nil {
		return fmt.Errorf("connect to the cluster in %s as %s: %w", c.DataDir, c.SuperUser, err)
	}
	defer closeQuietly(conn)
	return Bootstrap(ctx, conn, c.Role, c.Database)
}

// Stop stops the server with a fast shutdown if this Cluster started it; a server that was
// already running when Start adopted it is left running for whoever started it.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.startedHere {
		return nil
	}
	bin, err := c.binDir()
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "stop", "-w", "-t", "60", "-s",
		"-m", "fast", "-D", c.DataDir).CombinedOutput()
	if err != nil && c.Running() {
		return fmt.Errorf("stop PostgreSQL in %s: %w: %s", c.DataDir, err, bytes.TrimSpace(out))
	}
	c.startedHere = false
	return nil
}

// ConnInfo tells Mathesar how to reach its database in this cluster (valid after Start).
func (c *Cluster) ConnInfo() *ConnInfo {
	return &ConnInfo{Host: c.SocketDir, Port: c.Port, User: c.Role, Database: c.Database, SSLMode: "disable"}
}

// tail returns the last n lines of a file, for error messages.
func tail(name string, n int) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
