// Command floor is the yardstick `make bench-load` holds Filegraph against,
// in two forms that run the same statements (bench/floor/sqlfloor: lib/pq
// with every statement prepared once, the AWS SDK's v4 signer): plain
// net/http routes answering JSON (GET /download, GET /files, POST /uploads,
// POST /save, POST /delete), and stock gqlgen at /query (bench/floor/stock)
// answering the same GraphQL documents as Filegraph. What Filegraph reaches
// as a fraction of the stock-gqlgen one is what its own layers cost beyond
// GraphQL; of the plain one, what everything costs.
//
// Both verify the same HS256 bearer tokens, and keep the same limits
// (pending cap and quota) with the same conditional update of the user's
// usage row, in the same statement as the insert.
// Its save does not look at storage: it only exists to seed it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/filegraph/filegraph/bench/floor/sqlfloor"
	"github.com/filegraph/filegraph/bench/floor/stock"
)

func main() {
	var cfg sqlfloor.Config
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.StringVar(&cfg.DSN, "db", "", "PostgreSQL URL of a database migrated by `filegraph migrate`")
	flag.StringVar(&cfg.Bucket, "bucket", "", "S3 bucket")
	flag.StringVar(&cfg.Endpoint, "endpoint", "", "S3 endpoint (path style)")
	flag.StringVar(&cfg.Region, "region", "us-east-1", "S3 region")
	flag.StringVar(&cfg.AccessKey, "access", "", "S3 access key")
	flag.StringVar(&cfg.SecretKey, "secret", "", "S3 secret key")
	jwtSecret := flag.String("jwt-secret", "", "HS256 secret of bearer tokens")
	flag.Int64Var(&cfg.Quota, "quota", 1<<50, "bytes per user, saved and pending")
	flag.Int64Var(&cfg.MaxPending, "max-pending", 1000, "pending uploads per user")
	flag.IntVar(&cfg.MaxConns, "max-conns", 20, "database connections (Filegraph's pool has 10)")
	flag.Parse()

	f, err := sqlfloor.Open(cfg)
	if err != nil {
		log.Fatal(err)
	}
	a := auth{key: []byte(*jwtSecret), parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))}
	mux := http.NewServeMux()
	mux.Handle("POST /query", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		gql.ServeHTTP(w, r.WithContext(stock.WithUser(r.Context(), user)))
	}))
	gql = stock.NewHandler(f)
	mux.Handle("GET /download", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		id, err := uuid.Parse(r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		answer{w}.send(f.Download(r.Context(), user, id))
	}))
	mux.Handle("GET /files", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		var page struct {
			TotalCount  int64            `json:"totalCount"`
			HasNextPage bool             `json:"hasNextPage"`
			Files       []*sqlfloor.File `json:"files"`
		}
		var err error
		if page.Files, page.HasNextPage, err = f.Page(r.Context(), user, 50); err == nil {
			page.TotalCount, err = f.Count(r.Context(), user)
		}
		answer{w}.send(page, err)
	}))
	mux.Handle("POST /uploads", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		var in sqlfloor.Upload
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		answer{w}.send(f.Create(r.Context(), user, in))
	}))
	mux.Handle("POST /save", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		var in struct {
			FileNames []string `json:"fileNames"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		files, err := f.Save(r.Context(), user, in.FileNames)
		ids := make([]uuid.UUID, len(files))
		for i, fl := range files {
			ids[i] = fl.ID
		}
		answer{w}.send(map[string]any{"ids": ids}, err)
	}))
	mux.Handle("POST /delete", a.wrap(func(w http.ResponseWriter, r *http.Request, user string) {
		id, err := uuid.Parse(r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		answer{w}.send(map[string]any{"id": id}, f.Delete(r.Context(), user, id))
	}))
	log.Fatal(http.ListenAndServe(*addr, mux))
}

var gql http.Handler

// auth verifies the bearer token as Filegraph does (HS256, exp required).
type auth struct {
	key    []byte
	parser *jwt.Parser
}

func (a auth) wrap(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		if _, err := a.parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return a.key, nil }); err != nil || claims.Subject == "" {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		next(w, r, claims.Subject)
	}
}

type answer struct{ w http.ResponseWriter }

// send writes v as JSON, or err's status.
func (a answer) send(v any, err error) {
	w := a.w
	{
		switch {
		case errors.Is(err, sqlfloor.ErrNotFound):
			http.Error(w, "not found", http.StatusNotFound)
		case errors.Is(err, sqlfloor.ErrLimit):
			http.Error(w, err.Error(), http.StatusForbidden)
		case err != nil:
			log.Printf("floor: %v", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
	}
}
