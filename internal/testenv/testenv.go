// Package testenv starts the real services that integration tests talk to:
// a signature-checking S3 server (versitygw) and a fresh PostgreSQL
// database. A missing service is an error, never a skip: CI must not go
// green on tests that did not run.
//
// `make test` starts one versitygw for the whole run and passes it through
// FILEGRAPH_TEST_S3_*; a package run on its own starts its own.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/lib/pq"
)

// S3 is a running S3-compatible server.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	cmd       *exec.Cmd
	dir       string
}

// StartS3 returns the server named by FILEGRAPH_TEST_S3_ENDPOINT (with
// FILEGRAPH_TEST_S3_ACCESS_KEY and FILEGRAPH_TEST_S3_SECRET_KEY), or starts
// versitygw on a free loopback port.
func StartS3() (*S3, error) {
	if ep := os.Getenv("FILEGRAPH_TEST_S3_ENDPOINT"); ep != "" {
		return &S3{
			Endpoint:  ep,
			AccessKey: os.Getenv("FILEGRAPH_TEST_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("FILEGRAPH_TEST_S3_SECRET_KEY"),
			Region:    "us-east-1",
		}, nil
	}
	bin, err := versitygw()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "filegraph-s3-")
	if err != nil {
		return nil, err
	}
	s := &S3{AccessKey: "filegraphtest", SecretKey: randomHex(20), Region: "us-east-1", dir: dir}
	// Port 0: versitygw takes a free port itself (no port is picked here,
	// freed, and raced for), and /proc tells which.
	s.cmd = exec.Command(bin, "--port", "127.0.0.1:0", "--access", s.AccessKey, "--secret", s.SecretKey, "posix", dir)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: starting versitygw: %w", err)
	}
	addr, err := listenAddr(s.cmd.Process.Pid, 15*time.Second)
	if err == nil {
		err = waitTCP(addr, 15*time.Second)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("testenv: versitygw did not start: %w", err)
	}
	s.Endpoint = "http://" + addr
	return s, nil
}

// versitygw finds the binary: FILEGRAPH_VERSITYGW, the repository's .bin
// (where `make test` installs it), or PATH.
func versitygw() (string, error) {
	if p := os.Getenv("FILEGRAPH_VERSITYGW"); p != "" {
		return p, nil
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, ".bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("testenv: versitygw not found; run `make test`, which installs it into .bin/")
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Client returns an S3 client for test setup and inspection.
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
	})
}

// Credentials returns the server's static credentials.
func (s *S3) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// NewBucket creates an empty bucket with a unique name.
func (s *S3) NewBucket(ctx context.Context) (string, error) {
	name := "fg-" + randomHex(8)
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("testenv: create bucket: %w", err)
	}
	return name, nil
}

// Close stops a server that StartS3 started.
func (s *S3) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// Postgres is a database created for one test package run.
type Postgres struct {
	URL   string
	admin *sql.DB
	name  string
}

// NewPostgres creates a fresh database on the server named by
// FILEGRAPH_TEST_POSTGRES (default: the local one, database test).
func NewPostgres() (*Postgres, error) {
	base := os.Getenv("FILEGRAPH_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("testenv: PostgreSQL at %s: %w", redact(base), err)
	}
	name := "filegraph_test_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("testenv: create database: %w", err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return &Postgres{URL: u.String(), admin: admin, name: name}, nil
}

// Close drops the database.
func (p *Postgres) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+p.name+" WITH (FORCE)")
	p.admin.Close()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// listenAddr waits for process pid to listen on a loopback TCP port and
// returns that address. It reads /proc (Linux): the process's socket inodes,
// matched against the kernel's table of listening sockets.
func listenAddr(pid int, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		inodes := map[string]bool{}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				inodes[strings.TrimSuffix(inode, "]")] = true
			}
		}
		table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
		if err != nil {
			return "", fmt.Errorf("testenv: finding the port of process %d needs Linux's /proc: %w", pid, err)
		}
		for _, line := range strings.Split(string(table), "\n") {
			f := strings.Fields(line)
			// local_address is hex IP:port; state 0A is LISTEN; field 10 the inode.
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				return "", fmt.Errorf("testenv: /proc/%d/net/tcp: %q: %w", pid, f[1], err)
			}
			return net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("testenv: process %d listens on no TCP port after %v", pid, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}

// RunWithS3 is a TestMain body: it starts (or finds) the S3 server, stores
// it in *s for the package's tests, runs them, stops the server and exits.
func RunWithS3(m *testing.M, s **S3) {
	var err error
	if *s, err = StartS3(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	(*s).Close()
	os.Exit(code)
}
