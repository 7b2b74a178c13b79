// Package server wires one Filegraph instance from a Config: database,
// storage, the files service, and the HTTP routes. main runs it; tests serve
// the same handler with httptest.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/99designs/gqlgen/graphql"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/filegraph/filegraph/graph"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/clamd"
	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/cors"
	"github.com/filegraph/filegraph/internal/database"
	"github.com/filegraph/filegraph/internal/events"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/httplog"
	"github.com/filegraph/filegraph/internal/images"
	"github.com/filegraph/filegraph/internal/playground"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/diskstore"
	"github.com/filegraph/filegraph/internal/storage/s3store"
	"github.com/filegraph/filegraph/internal/telemetry"
	"github.com/filegraph/filegraph/internal/webapp"
	"github.com/filegraph/filegraph/internal/webhooks"
)

// Server is a wired instance.
type Server struct {
	Handler http.Handler
	Files   *files.Service
	// Metrics is the server's Prometheus registry; main serves it on
	// METRICS_ADDR.
	Metrics *telemetry.Metrics
	db      *database.DB
	store   storage.Store
	// What only some backends have, looked for once as the store opens.
	urls    storage.URLServer    // nil: URLs point at the store (S3)
	cleaner storage.StaleCleaner // nil: it leaves nothing of its own
	stop    context.CancelFunc   // ends the sweeper and the JWKS refresher
	// stopEvents ends the events hub, and with it every subscription.
	stopEvents context.CancelFunc
	tracing    *sdktrace.TracerProvider // nil: OTEL_EXPORTER_OTLP_ENDPOINT unset
	subs       *graph.Subscriptions
	events     chan struct{} // closed when the events hub has stopped
	// webhooks is closed when the webhook sender has written down its
	// last tries; nil when it does not run.
	webhooks chan struct{}
	bare     bool
	ready    readiness
}

// tracer is the provider spans come from, or nil when tracing is off.
func (s *Server) tracer() trace.TracerProvider {
	if s.tracing == nil {
		return nil // not a typed nil in an interface
	}
	return s.tracing
}

// Option changes how New wires the server.
type Option func(*options)

type options struct {
	store storage.Store
	now   func() time.Time
	bare  bool // no metrics or traces: the baseline the benchmarks compare with
}

// WithClock makes the files service read time from now: tests move it
// forward to expire uploads without waiting.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithStore uses store instead of the one the configuration names.
func WithStore(store storage.Store) Option {
	return func(o *options) { o.store = store }
}

// Open opens the database (migrating it when the configuration says so),
// connects the storage and returns the files service on them, with no
// routes and nothing running: what a one-off command such as reconcile
// needs.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	log = httplog.Logger(log)
	s := &Server{Metrics: telemetry.NewMetrics(), stop: func() {}, stopEvents: func() {}, bare: o.bare}
	if cfg.OTLPEndpoint != "" && !o.bare {
		tp, err := telemetry.Tracing(ctx, cfg.OTLPEndpoint, os.Getenv, log)
		if err != nil {
			return nil, err
		}
		s.tracing = tp
		log.Info("tracing.on", "endpoint", cfg.OTLPEndpoint)
	}
	dbOpts := []database.Option{database.MaxConns(cfg.DBMaxConns), database.Prepare(cfg.DBPrepare)}
	if tp := s.tracer(); tp != nil {
		dbOpts = append(dbOpts, database.OpenWith(telemetry.SQL(tp)))
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir, cfg.MigrateOnStart, log, dbOpts...)
	if err != nil {
		s.stopTracing()
		return nil, err
	}
	store := o.store
	if store == nil {
		if store, err = openStore(ctx, cfg, log); err != nil {
			db.Close()
			s.stopTracing()
			return nil, err
		}
	}
	s.db, s.store = db, store
	s.urls, _ = store.(storage.URLServer)
	s.cleaner, _ = store.(storage.StaleCleaner)
	gate, revocable := store.(storage.PutGate)
	s.Metrics.WatchDB(db.SQL, db.Dialect)
	fopts := FilesOptions(cfg)
	fopts.Now = o.now
	fopts.RevocableURLs = revocable
	fopts.Outbox = db.Outbox
	fopts.Jobs = db.Jobs()
	fopts.Lookups = db.Lookups
	if db.Deletes != nil { // a nil *Deletes is not a nil files.Deletes
		fopts.Deletes = db.Deletes
	}
	if db.Saves != nil {
		fopts.Saves = db.Saves
	}
	if cfg.Scan.ClamdAddr != "" {
		c, err := clamd.New(cfg.Scan.ClamdAddr)
		if err != nil { // config.Load checked it
			db.Close()
			s.stopTracing()
			return nil, err
		}
		fopts.Scanner = c
		log.Info("scan.on", "clamd", cfg.Scan.ClamdAddr, "max_size", cfg.Scan.MaxSize, "allow_unscanned", cfg.Scan.AllowUnscanned)
	}
	observed := store
	copier, _ := store.(storage.Copier)
	if !o.bare {
		fopts.Events = s.Metrics
		observed = s.Metrics.Store(store, s.tracer())
		if copier != nil {
			copier = s.Metrics.Copier(copier, store.Bucket(), s.tracer())
		}
	}
	// With scanning, public uploads wait under the private prefix and are
	// copied to their public keys once clean: on S3 the bucket policy
	// serves public keys to anyone, and Filegraph could not hold them back.
	fopts.Copier = copier
	s.Files = files.New(db.Ent, db.Usages, observed, fopts, log)
	if cfg.CollectionsFile != "" {
		names := make([]string, len(cfg.Collections))
		for i, c := range cfg.Collections {
			names[i] = c.Name
		}
		log.Info("files.collections", "file", cfg.CollectionsFile, "collections", names)
	}
	if pg, ok := store.(storage.PublicGate); ok {
		// Public keys are served only once the scan gate lets them out.
		pg.SetPublicGate(s.Files.PublicGate)
	}
	if revocable {
		// Its URLs stop working once their upload is saved, deleted or swept.
		gate.SetPutGate(s.Files.PutGate)
	}
	return s, nil
}

// New opens the server as Open does, then starts the background work
// (sweeper, JWKS refresh) and builds the routes.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	s, err := Open(ctx, cfg, log, opts...)
	if err != nil {
		return nil, err
	}
	log = httplog.Logger(log)
	svc := s.Files
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	authn, err := auth.New(bg, cfg.Auth, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Auth.Development() {
		log.Warn("auth.development_mode", "user", auth.LocalUser.ID,
			"why", "no AUTH_JWKS_URL or AUTH_JWT_SECRET: every request acts as one local user; do not expose this server")
	}
	go svc.RunJobs(bg, cfg.Processing.Concurrency)
	wakeWebhooks, err := s.startWebhooks(ctx, bg, cfg, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.SweepInterval > 0 {
		go svc.RunSweeper(bg, cfg.SweepInterval)
		if cfg.Webhooks.Keep > 0 { // a Config built without Load keeps all
			go s.pruneOutbox(bg, cfg, log)
		}
		if s.cleaner != nil {
			go cleanStale(bg, s.cleaner, cfg.SweepInterval, log)
		}
	}
	var trusted *graph.TrustedDocuments
	if path := cfg.GraphQL.TrustedDocuments; path != "" {
		if trusted, err = graph.LoadTrustedDocuments(path); err != nil {
			s.Close()
			return nil, err
		}
		log.Info("graphql.trusted_documents", "path", path, "documents", trusted.Len())
	}
	var exts []graphql.HandlerExtension
	if !s.bare {
		// Operation names take metric labels (100 at most) only from
		// callers with a token, or from the trusted documents' list.
		named := func(ctx context.Context) bool { _, err := auth.FromContext(ctx); return err == nil }
		if trusted != nil {
			named = nil
		}
		exts = append(exts, s.Metrics.GraphQL(s.tracer(), named))
	}
	hub := events.NewHub(s.db.EventReader(), events.Limits{
		Max:        cfg.Events.MaxSubscriptions,
		MaxPerUser: cfg.Events.MaxSubscriptionsPerUser,
	}, s.Metrics.Events(), log)
	s.db.Outbox.OnCommit(hub.Wake)
	s.events = make(chan struct{})
	hubCtx, stopHub := context.WithCancel(bg)
	s.stopEvents = stopHub
	go func() {
		defer close(s.events)
		hub.Run(hubCtx, eventsPoll)
	}()
	// One listener per replica wakes both readers of the outbox.
	go s.db.Listen(bg, func() { hub.Wake(); wakeWebhooks() }, log)
	s.subs = &graph.Subscriptions{
		Hub:          hub,
		Origins:      cfg.CORSAllowedOrigins,
		Authenticate: authn.WithHeader,
		KeepAlive:    15 * time.Second,
		WriteTimeout: 10 * time.Second,
	}
	api := graph.NewHandler(svc, graph.Limits{
		Introspection: cfg.GraphQL.Introspection,
		MaxDepth:      cfg.GraphQL.MaxDepth,
		MaxComplexity: cfg.GraphQL.MaxComplexity,
		Trusted:       trusted,
	}, s.subs, exts...)

	mux := http.NewServeMux()
	if cfg.GraphQL.Introspection {
		// The playground needs introspection; without it there is no page.
		pg := playground.Handler(playground.Config{Endpoint: "/query", Auth: !cfg.Auth.Development()})
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET /playground/", pg)
	}
	mux.Handle("/query", cors.Policy{
		Origins: cfg.CORSAllowedOrigins,
		Methods: []string{"GET", "POST"},
		Headers: []string{"Content-Type", "Authorization", "Accept", "X-GraphQL-Event-Stream-Token"},
		MaxAge:  3600,
	}.Handler(authn.Middleware(withTimeout(cfg.RequestTimeout, api))))
	if app := webapp.Handler(); app != nil {
		mux.Handle("GET /app/", app)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s.ready.serve(w, r, []check{{"database", s.db.Ping}, {"storage", s.store.Ping}})
	})
	if s.urls != nil {
		mux.Handle("/storage/", cors.Policy{
			Origins: cfg.CORSAllowedOrigins,
			Methods: []string{"PUT", "GET", "HEAD"},
			Headers: storage.CORSHeaders,
			Expose:  []string{"ETag"},
			MaxAge:  3600,
		}.Handler(http.StripPrefix("/storage", s.urls.Handler())))
	}
	if cfg.MetricsOnAPI() {
		// Only where the operator points METRICS_ADDR at the API listener.
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	var routes http.Handler = s.ready.closeWhileDraining(mux)
	if cfg.Auth.Development() {
		routes = localHostsOnly(cfg.PublicURL, routes)
	}
	if !s.bare {
		routes = s.Metrics.Routes(routes)
	}
	s.Handler = httplog.Middleware(log, routes)
	if tp := s.tracer(); tp != nil {
		s.Handler = telemetry.HTTP(tp, s.Handler)
	}
	return s, nil
}

// startWebhooks starts delivering the outbox to WEBHOOK_URL, when set, and
// returns what wakes its sender when another replica commits events; a
// URL whose address may not be reached is a misconfiguration.
func (s *Server) startWebhooks(ctx, bg context.Context, cfg config.Config, log *slog.Logger) (wake func(), err error) {
	w := cfg.Webhooks
	if len(w.URLs) == 0 {
		return func() {}, nil
	}
	receivers := make([]string, len(w.URLs))
	for i, u := range w.URLs {
		receivers[i] = webhooks.Receiver(u)
	}
	opts := webhooks.Options{
		URLs: w.URLs, Secret: w.Secret, Timeout: w.Timeout, RetryFor: w.RetryFor, AllowPrivate: w.AllowPrivate,
	}
	if !s.bare {
		opts.Observer = s.Metrics.Webhooks(receivers, func(ctx context.Context) (int, time.Time, error) {
			st, err := webhooks.Queue(ctx, s.db.Ent)
			return st.Pending, st.Oldest, err
		})
	}
	sender, err := webhooks.New(ctx, s.db.Ent, s.db.Deliveries, opts, log)
	if err != nil {
		return nil, err
	}
	s.db.Outbox.OnCommit(sender.Wake)
	s.webhooks = make(chan struct{})
	go func() {
		defer close(s.webhooks)
		sender.Run(bg)
	}()
	log.Info("webhooks.on", "receivers", receivers, "events", w.Events, "allow_private", w.AllowPrivate)
	return sender.Wake, nil
}

// pruneOutbox removes, every sweep interval, the webhook deliveries
// delivered more than WEBHOOK_KEEP ago and the events nothing refers to.
func (s *Server) pruneOutbox(ctx context.Context, cfg config.Config, log *slog.Logger) {
	t := time.NewTicker(cfg.SweepInterval)
	defer t.Stop()
	for {
		p, err := webhooks.Prune(ctx, s.db.Ent, cfg.Webhooks.Keep, cfg.Webhooks.RetryFor, cfg.Webhooks.URLs, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "webhooks.prune_failed", "err", err)
		case p != webhooks.Pruned{}:
			log.InfoContext(ctx, "webhooks.pruned", "deliveries", p.Deliveries, "events", p.Events, "abandoned", p.Abandoned)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cleanStale removes, every interval, what processes that are gone left in
// the store's temporary space (on disk: partial uploads of a process killed
// mid-PUT). The store cleans once as it opens; this covers processes that
// die while this one runs. It works on the store itself, beneath the
// instrumented wrapper the files service sees.
func cleanStale(ctx context.Context, c storage.StaleCleaner, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := c.CleanStale(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "storage.clean_stale_failed", "err", err)
		case n > 0:
			log.InfoContext(ctx, "storage.stale_cleaned", "removed", n)
		}
	}
}

// FilesOptions maps the server's configuration onto the files service's
// options.
func FilesOptions(cfg config.Config) files.Options {
	return files.Options{
		UploadURLTTL:   cfg.UploadURLTTL,
		DownloadURLTTL: cfg.DownloadURLTTL,
		MaxUploadSize:  cfg.MaxUploadSize,
		Limits: files.Limits{
			AllowedContentTypes: cfg.Limits.AllowedContentTypes,
			UserQuotaBytes:      cfg.Limits.UserQuotaBytes,
			MaxPendingUploads:   cfg.Limits.MaxPendingUploads,
		},
		Collections:     collections(cfg.Collections),
		Webhooks:        webhookTargets(cfg.Webhooks),
		SaveWindow:      cfg.UploadSaveWindow,
		DeleteGrace:     2 * cfg.RequestTimeout,
		ClockSkew:       time.Minute,
		PartSize:        cfg.PartSize,
		MultipartWindow: cfg.MultipartUploadWindow,
		ScanMaxSize:     cfg.Scan.MaxSize,
		ServeUnscanned:  cfg.Scan.AllowUnscanned,
		JobTimeout:      cfg.Processing.JobTimeout,
		ImageMaxPixels:  int64(cfg.Processing.ImageMaxPixels),
	}
}

// webhookTargets are the URLs each event's deliveries are written for.
func webhookTargets(w config.Webhooks) []files.Webhook {
	out := make([]files.Webhook, len(w.URLs))
	for i, u := range w.URLs {
		out[i] = files.Webhook{URL: u, Types: w.Events}
	}
	return out
}

// collections maps COLLECTIONS_FILE's collections onto the rules'.
func collections(cs []config.Collection) []files.Collection {
	out := make([]files.Collection, len(cs))
	for i, c := range cs {
		out[i] = files.Collection{Name: c.Name, AllowedContentTypes: c.AllowedContentTypes, MaxFileSize: c.MaxFileSize, Public: c.Public}
		for _, v := range c.Variants {
			out[i].Variants = append(out[i].Variants, images.Spec{Name: v.Name, Width: v.Width, Height: v.Height, Fit: images.Fit(v.Fit)})
		}
		if c.MaxFilesPerRequest > 0 {
			out[i].MaxFilesPerRequest = &c.MaxFilesPerRequest
		}
	}
	return out
}

// eventsPoll is how often the hub reads the outbox unwoken: a NOTIFY lost
// while the listener reconnects delays events by at most this.
const eventsPoll = 2 * time.Second

// withTimeout bounds each request: database and storage calls give up when
// it passes, and the client gets UNAVAILABLE rather than a hung connection.
// Subscriptions live on, each write with a deadline of its own.
func withTimeout(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if graph.IsStreaming(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// openStore connects the storage the configuration names: S3 when a bucket
// is set, else the disk folder.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (storage.Store, error) {
	if cfg.S3.Bucket != "" {
		s, err := s3store.New(ctx, s3store.Config{
			Bucket:         cfg.S3.Bucket,
			Region:         cfg.S3.Region,
			Endpoint:       cfg.S3.Endpoint,
			ForcePathStyle: cfg.S3.ForcePathStyle,
			PublicBaseURL:  cfg.S3.PublicBaseURL,
		})
		if err != nil {
			return nil, err
		}
		if cfg.S3.SetBucketCORS {
			if err := s.SetCORS(ctx, cfg.CORSAllowedOrigins); err != nil {
				return nil, err
			}
			log.Info("storage.cors_set", "bucket", cfg.S3.Bucket, "origins", cfg.CORSAllowedOrigins)
		}
		log.Info("storage.s3", "bucket", cfg.S3.Bucket, "endpoint", cfg.S3.Endpoint)
		return s, nil
	}
	key := cfg.StorageSigningKey
	if key == nil {
		var err error
		if key, err = diskstore.LoadOrCreateKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(cfg.DataDir, "storage")
	s, err := diskstore.New(dir, cfg.PublicURL+"/storage/", key, diskstore.MinFree(cfg.DiskMinFree),
		diskstore.WithLimits(diskstore.Limits{MaxPuts: cfg.DiskPuts.Max, MaxPutsPerUser: cfg.DiskPuts.MaxPerUser, IdleTimeout: cfg.DiskPuts.IdleTimeout}))
	if err != nil {
		return nil, err
	}
	log.Info("storage.disk", "dir", dir, "public_url", cfg.PublicURL)
	return s, nil
}

// Drain starts a graceful shutdown: /readyz answers 503 from now on, so
// load balancers stop sending, and each response closes its connection.
// Requests are still served; the caller stops the listener after a delay.
func (s *Server) Drain() { s.ready.draining.Store(true) }

// GoAway ends every subscription, WebSockets with close code 1001 (going
// away), so that their clients reconnect to another replica.
func (s *Server) GoAway() {
	if s.subs == nil {
		return
	}
	s.subs.GoAway(5 * time.Second)
	s.stopEvents()
	<-s.events
}

// Close stops the background work and releases the database.
func (s *Server) Close() error {
	s.stop()
	if s.webhooks != nil {
		<-s.webhooks // its last tries are written down
	}
	defer s.stopTracing()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing database: %w", err)
	}
	return nil
}

// stopTracing sends the spans still batched, giving up after a few seconds
// when the collector does not answer.
func (s *Server) stopTracing() {
	if s.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.tracing.Shutdown(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
