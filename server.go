// Command filegraph serves the Filegraph GraphQL API: presigned uploads
// straight to object storage, then save, list, download and delete.
//
//	filegraph [serve]            run the server (migrating first unless MIGRATE_ON_START=false)
//	filegraph migrate            apply the database migrations and exit
//	filegraph reconcile [-fix]   compare storage with the database; -fix repairs
//	filegraph webhooks           list the webhook deliveries given up
//	filegraph webhooks retry ID|-all   send failed deliveries again
//
// Every setting is an environment variable with a matching flag (ADDR is
// -addr, S3_BUCKET is -s3-bucket); see internal/config and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/database"
	"github.com/filegraph/filegraph/internal/logsink"
	"github.com/filegraph/filegraph/internal/server"
	"github.com/filegraph/filegraph/internal/webhooks"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "filegraph:", err)
		os.Exit(1)
	}
}

// errInconsistent makes reconcile exit non-zero when it found, and did not
// fix, a difference, so that a scheduled run can alert.
var errInconsistent = errors.New("storage and database differ; run with -fix to repair")

// run runs the command args name, logging to logTo.
func run(args []string, logTo io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("filegraph "+cmd, flag.ExitOnError)
	flags := make(map[string]*string, len(config.Settings))
	for _, s := range config.Settings {
		flags[s.Env] = fs.String(s.Flag(), "", fmt.Sprintf("%s (env %s, default %q)", s.Usage, s.Env, s.Default))
	}
	fix := fs.Bool("fix", false, "reconcile: delete orphaned objects and the rows of files whose objects are gone")
	metricsFile := fs.String("metrics-file", "", "reconcile: also write what it found as Prometheus series to this file (for node_exporter's textfile collector)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: filegraph [serve|migrate|reconcile [-fix] [-metrics-file F]|webhooks [list|retry ID|retry -all]] [flags]\n\nflags (each also an environment variable):\n")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	cfg, err := config.Load(func(name string) string {
		if v := *flags[name]; v != "" {
			return v
		}
		return os.Getenv(name)
	})
	if err != nil {
		return err
	}
	sink := logsink.New(logTo, 100*time.Millisecond, 64<<10)
	defer sink.Close()
	log := newLogger(cfg, sink)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir, true, log, database.MaxConns(cfg.DBMaxConns))
		if err != nil {
			return err
		}
		log.Info("database.up_to_date")
		return db.Close()
	case "reconcile":
		return reconcile(ctx, cfg, log, *fix, *metricsFile)
	case "webhooks":
		return webhooksCommand(ctx, cfg, log, fs.Args(), os.Stdout)
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

func reconcile(ctx context.Context, cfg config.Config, log *slog.Logger, fix bool, metricsFile string) error {
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	r, err := srv.Files.Reconcile(ctx, fix)
	if metricsFile != "" {
		if werr := srv.Metrics.WriteReconcileFile(metricsFile); werr != nil {
			return errors.Join(err, fmt.Errorf("writing %s: %w", metricsFile, werr))
		}
	}
	if err != nil {
		return err
	}
	fmt.Printf("objects: %d\nfiles:   %d\n", r.Objects, r.Files)
	if r.OtherBuckets > 0 {
		fmt.Printf("files in other buckets, not checked: %d\n", r.OtherBuckets)
	}
	verb := map[bool]string{false: "", true: " (deleted)"}[r.Fixed]
	fmt.Printf("objects without a row: %d%s\n", len(r.Orphans), verb)
	for _, k := range r.Orphans {
		fmt.Printf("  %s\n", k)
	}
	fmt.Printf("rows without an object: %d%s\n", len(r.Missing), verb)
	for _, m := range r.Missing {
		fmt.Printf("  %s %s (owner %s)\n", m.ID, m.FileName, m.Owner)
	}
	fmt.Printf("uploads in parts without a row: %d%s\n", len(r.StrayUploads), map[bool]string{false: "", true: " (aborted)"}[r.Fixed])
	for _, u := range r.StrayUploads {
		fmt.Printf("  %s (upload %s, started %s)\n", u.Key, u.UploadID, u.Initiated.UTC().Format(time.RFC3339))
	}
	if !r.Fixed && len(r.Orphans)+len(r.Missing)+len(r.StrayUploads) > 0 {
		return errInconsistent
	}
	return nil
}

// webhooksCommand lists the failed webhook deliveries, or sends them
// again: `webhooks [list]`, `webhooks retry ID`, `webhooks retry -all`.
func webhooksCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir, cfg.MigrateOnStart, log, database.MaxConns(2))
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "list":
		if len(args) > 0 {
			return fmt.Errorf("webhooks list takes no arguments, got %q", args)
		}
		ds, err := webhooks.Failed(ctx, db.Ent, 1000)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWEBHOOK-ID\tTYPE\tURL\tTRIES\tFAILED AT\tLAST ERROR")
		for _, d := range ds {
			failed := ""
			if d.DoneAt != nil {
				failed = d.DoneAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Edges.Event.PublicID, d.Edges.Event.Type, d.URL, d.Attempts, failed, d.LastError)
		}
		tw.Flush()
		fmt.Fprintf(out, "failed deliveries: %d\n", len(ds))
		return nil
	case "retry":
		rfs := flag.NewFlagSet("filegraph webhooks retry", flag.ContinueOnError)
		all := rfs.Bool("all", false, "send every failed delivery again")
		if err := rfs.Parse(args); err != nil {
			return err
		}
		switch {
		case *all && rfs.NArg() == 0:
			n, err := webhooks.RetryAll(ctx, db.Ent, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "deliveries sent back to pending: %d\n", n)
			return nil
		case !*all && rfs.NArg() == 1:
			id, err := strconv.Atoi(rfs.Arg(0))
			if err != nil {
				return fmt.Errorf("webhooks retry: %q is not a delivery id (the ID column of filegraph webhooks)", rfs.Arg(0))
			}
			if err := webhooks.Retry(ctx, db.Ent, id, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(out, "delivery %d sent back to pending\n", id)
			return nil
		}
		return errors.New("usage: filegraph webhooks retry ID, or filegraph webhooks retry -all")
	}
	return fmt.Errorf("unknown webhooks command %q: use list, retry ID or retry -all", sub)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	// Listen first: with ADDR's port 0 the system picks a free port, and
	// the default PUBLIC_URL (disk-storage URLs) must name that one.
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	defer l.Close()
	if cfg.PublicURL == config.DefaultPublicURL(cfg.Addr) {
		cfg.PublicURL = config.DefaultPublicURL(l.Addr().String())
	}
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	stopMetrics, err := serveMetrics(cfg, srv, log)
	if err != nil {
		return err
	}
	defer stopMetrics()

	var inflight atomic.Int64
	httpSrv := &http.Server{
		Addr: cfg.Addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Add(-1)
			srv.Handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		// Disk-storage transfers lift these for their own bodies once the
		// signature checks out; everything else is small.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: max(60*time.Second, cfg.RequestTimeout+10*time.Second),
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(l) }()
	log.Info("server.listening", "addr", l.Addr().String(), "playground", cfg.PublicURL+"/")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// A second signal skips what is left of the drain and the grace.
	hurry, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Fail readiness first and keep serving, so that load balancers stop
	// sending before the listener closes.
	srv.Drain()
	log.Info("server.draining", "drain_delay", cfg.DrainDelay)
	select {
	case <-time.After(cfg.DrainDelay):
	case <-hurry.Done():
	}
	log.Info("server.shutting_down", "grace", cfg.ShutdownGrace, "in_flight", inflight.Load())
	// Subscriptions never end by themselves: end them now, WebSockets
	// with "going away", so that their clients go to another replica.
	srv.GoAway()
	graceCtx, cancel := context.WithTimeout(hurry, cfg.ShutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(graceCtx); err == nil {
		log.Info("server.stopped")
		return nil
	}
	// The grace ran out. Closing the connections makes each remaining
	// handler's read or write fail, so it cleans up (a disk upload removes
	// its partial file) before the process exits; they get a moment to.
	cut := inflight.Load()
	httpSrv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Exit 0 all the same: the process did what SIGTERM asked, and a
	// non-zero status would read as a crash to supervisors. The cut
	// requests are in this warning; their clients saw their connections
	// close and may retry.
	log.Warn("server.shutdown_grace_exceeded", "grace", cfg.ShutdownGrace, "requests_cut", cut, "still_running", inflight.Load())
	return nil
}

// serveMetrics serves /metrics on METRICS_ADDR, a listener of its own so
// that the API's clients never see it, until the returned stop is called.
func serveMetrics(cfg config.Config, srv *server.Server, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" || cfg.MetricsOnAPI() {
		return func() {}, nil // off, or on the API listener
	}
	l, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.Metrics.Handler())
	ms := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go ms.Serve(l)
	log.Info("metrics.listening", "addr", l.Addr().String())
	return func() { ms.Close() }, nil
}

// newLogger logs to out, which batches records (one write system call
// per batch, not per request).
func newLogger(cfg config.Config, out io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logsink.Shorten}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}
