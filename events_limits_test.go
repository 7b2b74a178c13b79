package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// uploadMany runs the browser's flow for reqs (UploadRequest objects, size
// set here) in one createUploadUrls and one saveFiles as the token's user,
// each file's body being body; it returns the saved ids in order.
func (p *process) uploadMany(t *testing.T, tok string, body []byte, reqs ...map[string]any) []string {
	t.Helper()
	for _, r := range reqs {
		r["size"] = len(body)
	}
	var c struct {
		CreateUploadUrls []struct {
			FileName, OriginalName, URL, Method string
			Headers                             []storage.Header
		}
	}
	p.authed(t, tok, `mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName originalName url method headers { name value } } }`,
		map[string]any{"f": reqs}, &c)
	save := make([]map[string]any, len(c.CreateUploadUrls))
	for i, u := range c.CreateUploadUrls {
		res := storagetest.Send(t, storage.Request{Method: u.Method, URL: u.URL, Header: u.Headers}, body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT: %d", res.StatusCode)
		}
		save[i] = map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
	}
	var s struct{ SaveFiles []struct{ ID string } }
	p.authed(t, tok, `mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id } }`, map[string]any{"f": save}, &s)
	ids := make([]string, len(s.SaveFiles))
	for i, f := range s.SaveFiles {
		ids[i] = f.ID
	}
	return ids
}

// events reads n events from s as "TYPE fileId collection" lines.
func (s *subscriber) events(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for range n {
		ev, _ := s.nextEvent(t)
		col := ""
		if f, ok := ev["file"].(map[string]any); ok {
			col, _ = f["collection"].(string)
		}
		got = append(got, fmt.Sprint(ev["type"], " ", ev["fileId"], " ", col))
	}
	return got
}

// On SQLite and disk: a user's subscription has only their own events, an
// admin's everyone's, and fileEvents(collection:) only that collection's,
// over both transports. Each stream's events are checked in order, with
// events it must not get made before the ones it must: had it got one,
// that one would have come first.
func TestSubscriptionFilters(t *testing.T) {
	d, dir := diskDeployment(t)
	cf := filepath.Join(dir, "collections.yaml")
	if err := os.WriteFile(cf, []byte("collections:\n  avatars:\n    maxFileSize: 1MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := d.start("AUTH_JWT_SECRET="+eventsSecret, "COLLECTIONS_FILE="+cf, "METRICS_ADDR=127.0.0.1:0")
	alice, bob, admin := token(t, "alice"), token(t, "bob"), token(t, "root", "admin")

	aliceAll := subscribe(t, "ws", p.base, alice, 2)
	aliceAvatars := subscribe(t, "sse", p.base, alice, 1, "avatars")
	adminAll := subscribe(t, "sse", p.base, admin, 3)
	adminAvatars := subscribe(t, "ws", p.base, admin, 2, "avatars")
	p.waitSubscriptions(t, 4)

	a1 := p.uploadMany(t, alice, []byte("a1"), map[string]any{"originalName": "a1.txt"})[0]
	b1 := p.uploadMany(t, bob, []byte("b1"), map[string]any{"originalName": "b1.png", "collection": "avatars"})[0]
	a2 := p.uploadMany(t, alice, []byte("a2"), map[string]any{"originalName": "a2.png", "collection": "avatars"})[0]

	for _, c := range []struct {
		name string
		s    *subscriber
		want []string
	}{
		{"alice (ws)", aliceAll, []string{"SAVED " + a1 + " default", "SAVED " + a2 + " avatars"}},
		{"alice, avatars (sse)", aliceAvatars, []string{"SAVED " + a2 + " avatars"}},
		{"admin (sse)", adminAll, []string{"SAVED " + a1 + " default", "SAVED " + b1 + " avatars", "SAVED " + a2 + " avatars"}},
		{"admin, avatars (ws)", adminAvatars, []string{"SAVED " + b1 + " avatars", "SAVED " + a2 + " avatars"}},
	} {
		if got := c.s.events(t, len(c.want)); !slices.Equal(got, c.want) {
			t.Errorf("%s got %q, want %q", c.name, got, c.want)
		}
	}
}

// SIGTERM ends subscriptions so that clients go elsewhere: a graphql-ws
// client sees its WebSocket closed with 1001 (going away), a graphql-sse
// client an error with code GOING_AWAY; the process then exits 0.
func TestSubscriptionGoingAway(t *testing.T) {
	d, _ := diskDeployment(t)
	p := d.start("METRICS_ADDR=127.0.0.1:0", "DRAIN_DELAY=100ms", "SHUTDOWN_GRACE=5s")
	ws := subscribe(t, "ws", p.base, "", 1)
	sse := subscribe(t, "sse", p.base, "", 1)
	p.waitSubscriptions(t, 2)
	p.cmd.Process.Signal(syscall.SIGTERM)

	for {
		m := ws.next(t)
		if m["event"] != nil {
			t.Fatalf("graphql-ws got an event: %v", m)
		}
		if m["closed"] != nil {
			if m["closed"] != float64(1001) {
				t.Errorf("graphql-ws was closed with %v, want 1001", m)
			}
			break
		}
	}
	for {
		m := sse.next(t)
		if m["event"] != nil || m["complete"] != nil {
			t.Fatalf("graphql-sse got %v before an error", m)
		}
		if m["error"] != nil {
			if !strings.Contains(fmt.Sprint(m["error"]), "GOING_AWAY") {
				t.Errorf("graphql-sse's error is %v, want code GOING_AWAY", m["error"])
			}
			break
		}
	}
	if code := p.waitExit(t, 15e9); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.out)
	}
}

// stalledSubscriber opens a WebSocket subscription on a raw connection and
// never reads again, as a frozen tab or a dead link looks to the server;
// every event carries the file's metadata (~7 KiB here).
func stalledSubscriber(t *testing.T, base, tok string) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(4096)
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /query HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n", u.Host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket upgrade: %v %v", err, res)
	}
	wsText(t, c, `{"type":"connection_init","payload":{"Authorization":"Bearer `+tok+`"}}`)
	// The ack, a short unmasked text frame, read so that subscribe comes after it.
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil || hdr[1] >= 126 {
		t.Fatalf("connection_ack: %v %x", err, hdr)
	}
	ack := make([]byte, hdr[1])
	if _, err := io.ReadFull(br, ack); err != nil || !bytes.Contains(ack, []byte("connection_ack")) {
		t.Fatalf("connection_ack: %v %s", err, ack)
	}
	wsText(t, c, `{"id":"1","type":"subscribe","payload":{"query":"subscription { fileEvents { id type fileId file { metadata } } }"}}`)
}

// wsText writes msg as one masked text frame, as a client must.
func wsText(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	b := []byte(msg)
	frame := []byte{0x81}
	if n := len(b); n < 126 {
		frame = append(frame, 0x80|byte(n))
	} else {
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	}
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	frame = append(frame, mask...)
	for i, x := range b {
		frame = append(frame, x^mask[i%4])
	}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// rss is the process's resident memory in bytes (Linux).
func (p *process) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in %s", b)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// metric reads one unlabelled sample from the process's /metrics.
func (p *process) metric(t *testing.T, name string) float64 {
	t.Helper()
	res, err := client.Get("http://" + loggedAddr(p.out.String(), "metrics.listening") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// 20 admins subscribe (each event carrying ~7 KiB of metadata) and never
// read, beside a graphql-ws client that reads. 3,000 events would be
// 20 × 3,000 × ~7.3 KB ≈ 440 MB buffered for the stalled ones; each is
// dropped instead once its socket is full and it falls 1,024 events
// behind (or a write waits 10 s), the reader gets every event, and the
// server's resident memory stays flat.
func TestStalledSubscribersAreDropped(t *testing.T) {
	d, _ := diskDeployment(t)
	p := d.start("AUTH_JWT_SECRET="+eventsSecret, "METRICS_ADDR=127.0.0.1:0")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", p.out)
		}
	})
	alice := token(t, "alice")
	const stalled, batches, batch = 20, 30, 100
	const total = batches * batch
	metadata := map[string]any{}
	for i := range 7 {
		metadata[fmt.Sprintf("k%d", i)] = strings.Repeat(string(rune('a'+i)), 1024)
	}
	upload := func(b int) {
		reqs := make([]map[string]any, batch)
		for i := range reqs {
			reqs[i] = map[string]any{"originalName": fmt.Sprintf("f%d-%d.txt", b, i), "metadata": metadata}
		}
		p.uploadMany(t, alice, []byte("x"), reqs...)
	}

	reader := subscribe(t, "ws", p.base, alice, total)
	var read atomic.Int64
	readAll := make(chan error, 1)
	go func() {
		for read.Load() < total {
			m, ok := <-reader.lines
			if !ok {
				readAll <- fmt.Errorf("the reader exited after %d events", read.Load())
				return
			}
			if m["event"] != nil {
				read.Add(1)
			} else if m["error"] != nil || m["closed"] != nil {
				readAll <- fmt.Errorf("the reader's subscription ended: %v", m)
				return
			}
		}
		readAll <- nil
	}()
	p.waitSubscriptions(t, 1)
	// Warm up before the baseline: the first batches grow the server's
	// pools and caches, whoever subscribes.
	upload(0)
	upload(1)
	for i := range stalled {
		stalledSubscriber(t, p.base, token(t, fmt.Sprintf("ops%d", i), "admin"))
	}
	p.waitSubscriptions(t, stalled+1)
	before := p.rss(t)
	peak := before
	for b := 2; b < batches; b++ {
		upload(b)
		peak = max(peak, p.rss(t))
	}
	if err := <-readAll; err != nil {
		t.Fatal(err)
	}
	p.waitSubscriptions(t, 1) // the stalled ones are gone
	after := p.rss(t)
	t.Logf("%d stalled subscribers, %d events of ~7.3 KB: RSS %.1f MB before, peak %.1f MB, %.1f MB after; %v dropped for falling behind",
		stalled, total, float64(before)/1e6, float64(peak)/1e6, float64(after)/1e6, p.metric(t, "filegraph_subscriptions_dropped_total"))
	// Buffered, the stalled subscribers' events would be ~410 MB from the
	// baseline on; dropped, each holds at most its socket's buffers (the
	// kernel's) and 1,024 pointers to shared events.
	if grew := peak - before; grew > 40<<20 {
		t.Errorf("RSS grew by %.1f MB while subscribers stalled", float64(grew)/1e6)
	}
}
