package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunRefusesBadConfiguration(t *testing.T) {
	err := run([]string{"-addr", "nope", "-max-upload-size", "0", "-data-dir", t.TempDir()}, io.Discard)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"ADDR", "MAX_UPLOAD_SIZE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// client bounds every request a test sends, so a server that never
// answers fails the test instead of hanging it.
var client = &http.Client{Timeout: time.Minute}

// TestRunServesAndShutsDown starts the real main on the embedded defaults,
// answers a query, serves metrics on their own listener, and stops cleanly
// on SIGTERM.
func TestRunServesAndShutsDown(t *testing.T) {
	// Port 0 for both listeners: the server takes free ports and logs them,
	// so no port is picked here, freed, and raced for.
	logs := &output{}
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-data-dir", t.TempDir(), "-log-level", "info", "-drain-delay", "100ms"}, logs)
	}()

	var addr, metricsAddr string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if addr == "" || metricsAddr == "" {
			addr, metricsAddr = listeningAddr(logs.String()), loggedAddr(logs.String(), "metrics.listening")
		}
		var res *http.Response
		err := errors.New("not listening yet")
		if addr != "" && metricsAddr != "" {
			res, err = client.Get("http://" + addr + "/readyz")
		}
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before serving: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := client.Post("http://"+addr+"/query", "application/json", strings.NewReader(`{"query":"{ files { totalCount } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("query: status %d", res.StatusCode)
	}
	for url, want := range map[string]int{"http://" + metricsAddr + "/metrics": 200, "http://" + addr + "/metrics": 404} {
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", url, res.StatusCode, want)
		}
		if want == 200 && !strings.Contains(string(body), `filegraph_graphql_operations_total{operation="files",outcome="ok",type="query"} 1`) {
			t.Errorf("metrics do not count the query:\n%.2000s", body)
		}
	}

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
}
