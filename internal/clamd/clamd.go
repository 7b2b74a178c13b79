// Package clamd scans streams with ClamAV's daemon, clamd, over its
// INSTREAM command: the bytes go to clamd in chunks, each a 4-byte
// big-endian length and the bytes, ended by a zero length; clamd answers
// "stream: OK" or "stream: <signature> FOUND". Nothing is kept: memory is
// one chunk, whatever the size of the stream.
package clamd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// chunkSize is the most clamd is sent at once (its default StreamMaxLength
// is 25 MB; the stream, not the chunk, counts against it).
const chunkSize = 64 << 10

// Client reaches one clamd.
type Client struct {
	network, addr string
	dialer        net.Dialer
}

// ParseAddr reads SCAN_CLAMD_ADDR: tcp://host:port or unix:/path.
func ParseAddr(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		if p == "" || !strings.HasPrefix(p, "/") {
			return "", "", fmt.Errorf("want unix:/path/to/clamd.ctl, got %q", s)
		}
		return "unix", p, nil
	case strings.HasPrefix(s, "tcp://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", "", fmt.Errorf("want tcp://host:port, got %q", s)
		}
		return "tcp", u.Host, nil
	}
	return "", "", fmt.Errorf("want tcp://host:port or unix:/path, got %q", s)
}

// New returns a client of the clamd at addr (as ParseAddr reads it).
func New(addr string) (*Client, error) {
	network, a, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	return &Client{network: network, addr: a, dialer: net.Dialer{Timeout: 5 * time.Second}}, nil
}

// Error is a failure to get an answer from clamd: it is down, slow, or
// refused the stream. The scan may be tried again.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "clamd: " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Scan sends r to clamd and returns the signature it found, or "" for a
// clean stream. The whole exchange ends by ctx's deadline.
func (c *Client) Scan(ctx context.Context, r io.Reader) (string, error) {
	conn, err := c.dialer.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return "", &Error{"connecting", err}
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	sendErr := send(conn, r)
	// clamd may answer early (a stream over its limit) and close: its
	// answer says more than the write's broken pipe.
	answer, readErr := readAnswer(conn)
	if readErr != nil {
		if sendErr != nil {
			return "", sendErr
		}
		return "", &Error{"reading the answer", readErr}
	}
	switch {
	case answer == "stream: OK":
		if sendErr != nil {
			return "", sendErr
		}
		return "", nil
	case strings.HasSuffix(answer, " FOUND"):
		return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(answer, "stream:"), " FOUND")), nil
	}
	return "", &Error{"scanning", fmt.Errorf("clamd answered %q", answer)}
}

// send writes the INSTREAM command and r in chunks.
func send(conn net.Conn, r io.Reader) error {
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		return &Error{"sending", err}
	}
	buf := make([]byte, 4+chunkSize)
	for {
		n, err := io.ReadFull(r, buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf[:4], uint32(n))
			if _, werr := conn.Write(buf[:4+n]); werr != nil {
				return &Error{"sending", werr}
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			// The object could not be read: not clamd's failure, but the
			// scan is tried again all the same.
			return fmt.Errorf("reading the object: %w", err)
		}
	}
	if _, err := conn.Write([]byte{0, 0, 0, 0}); err != nil {
		return &Error{"sending", err}
	}
	return nil
}

// readAnswer reads clamd's NUL-terminated answer (at most 4 KiB).
func readAnswer(conn net.Conn) (string, error) {
	s, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadString(0)
	switch {
	case err == nil:
		return strings.TrimSpace(strings.TrimSuffix(s, "\x00")), nil
	case err == io.EOF && s != "":
		return strings.TrimSpace(s), nil // closed after an unterminated answer
	case err == io.EOF:
		return "", errors.New("connection closed without an answer")
	}
	return "", err
}

// Ping asks clamd whether it is up (PING, answered PONG).
func (c *Client) Ping(ctx context.Context) error {
	conn, err := c.dialer.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return &Error{"connecting", err}
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return &Error{"sending", err}
	}
	answer, err := readAnswer(conn)
	if err != nil {
		return &Error{"reading the answer", err}
	}
	if answer != "PONG" {
		return &Error{"ping", fmt.Errorf("clamd answered %q", answer)}
	}
	return nil
}
