// Package pgtest runs a throwaway PostgreSQL (Debian's postgresql-15) for
// tests: one cluster per test binary, initdb'd into a temporary folder and
// listening on 127.0.0.1 on a free port, with a fresh database for each
// test that asks (DSN). Tests never touch a server they did not start.
//
// The cluster starts on first use. It runs as the current user, or as the
// postgres user when the tests run as root (initdb refuses root). A test
// binary that uses it calls Main from its TestMain, which stops the
// cluster and removes its folder when the tests end; the server is also
// told to quit if the test binary dies (Pdeathsig), so it never outlives
// the tests.
//
// The cluster takes passwords (scram-sha-256 over TCP), so the DSN a test
// gets holds a real password, as a production one does.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/testport"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Admin is the cluster's superuser.
const Admin = "postgres"

// Server is a running cluster.
type Server struct {
	Host     string
	Port     int
	Password string

	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	admin  *sql.DB
	seq    atomic.Int64
}

var (
	once    sync.Once
	shared  *Server
	skipMsg string
	failErr error
)

// Main runs the tests of a package that uses this one and then stops the
// cluster, if one was started: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}

// Get returns the test binary's cluster, starting it on first use. It
// skips the test when PostgreSQL is not installed (outside CI; in CI,
// where .ci/run installs it, it fails instead), and fails it when the
// cluster would not start.
func Get(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, skipMsg, failErr = start() })
	switch {
	case skipMsg != "" && os.Getenv("CI") == "":
		t.Skip(skipMsg)
	case skipMsg != "":
		t.Fatal(skipMsg)
	case failErr != nil:
		t.Fatalf("start PostgreSQL: %v", failErr)
	}
	return shared
}

// DSN creates a new, empty database for t (dropped when t ends) and
// returns a connection string for it with the superuser's password.
func DSN(t testing.TB) string {
	t.Helper()
	s := Get(t)
	name := s.CreateDB(t)
	return s.DSNFor(name)
}

// DSNFor returns the connection string of database name.
func (s *Server) DSNFor(name string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
		s.Host, s.Port, Admin, s.Password, name)
}

// CreateDB creates a new empty database, dropped when t ends, and returns
// its name.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.seq.Add(1))
	ctx := context.Background()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// binDir finds the newest installed PostgreSQL's binaries.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func start() (*Server, string, error) {
	bin := binDir()
	if bin == "" {
		return nil, "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it): its tests are skipped", nil
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "", fmt.Errorf("running as root, initdb needs another user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// A short folder: the server's unix socket lives in it.
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		return nil, "", err
	}
	s := &Server{Host: "127.0.0.1", dir: dir, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, "", err
		}
	}
	pw := make([]byte, 12)
	rand.Read(pw)
	s.Password = hex.EncodeToString(pw)
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	if cred != nil {
		os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", Admin, "-E", "UTF8", "--no-locale",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwfile, "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The port was free when testport.Free let it go, but another process (a
	// test binary beside this one) may take it before postgres binds it:
	// then try another.
	for attempt := 1; ; attempt++ {
		err = s.run(bin, data, cred)
		if err == nil {
			break
		}
		if attempt == 5 || !errors.Is(err, errPortTaken) {
			return nil, "", err
		}
		s.exited = make(chan struct{})
	}
	ok = true
	return s, "", nil
}

// errPortTaken is a postgres that could not listen on its port.
var errPortTaken = errors.New("port taken")

// run starts postgres on a free port and waits until it answers.
func (s *Server) run(bin, data string, cred *syscall.Credential) error {
	var err error
	if s.Port, err = pickPort(); err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Durability off: a test's cluster never outlives the tests.
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := s.exited
	go func() { s.cmd.Wait(); close(exited) }()
	if s.admin != nil {
		s.admin.Close()
	}
	if s.admin, err = sql.Open("pgx", s.DSNFor("postgres")); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Bounded: whoever else holds the port may take the connection
		// and never answer, and postgres's exit is seen only between pings.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = s.admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "Address already in use") {
				return fmt.Errorf("postgres on port %d: %w", s.Port, errPortTaken)
			}
			return fmt.Errorf("postgres exited: %s", strings.TrimSpace(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not answer within 30s: %w", err)
		}
	}
}

// stop stops the server (fast shutdown: it disconnects clients) and
// removes its folder.
func (s *Server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

// pickPort is testport.Free; a test may make it give a taken one.
var pickPort = testport.Free
