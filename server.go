// Command filegraph serves the Filegraph GraphQL API: presigned uploads
// straight to object storage, then save, list, download and delete.
//
// Every setting is an environment variable with a matching flag (ADDR is
// -addr, S3_BUCKET is -s3-bucket); see internal/config and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "filegraph:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("filegraph", flag.ExitOnError)
	flags := make(map[string]*string, len(config.Settings))
	for _, s := range config.Settings {
		flags[s.Env] = fs.String(s.Flag(), "", fmt.Sprintf("%s (env %s, default %q)", s.Usage, s.Env, s.Default))
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
	log := newLogger(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()

	httpSrv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Disk-storage transfers lift these for their own bodies once the
		// signature checks out; everything else is small.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.ListenAndServe() }()
	log.Info("server.listening", "addr", cfg.Addr, "playground", cfg.PublicURL+"/")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("server.shutting_down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
