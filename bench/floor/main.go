// Command floor is the yardstick `make bench-load` holds Filegraph against:
// the same three operations over plain net/http, lib/pq and the AWS SDK's
// v4 signer, running the same owner-scoped SQL as Filegraph, with no
// GraphQL, no ORM and no framework. What Filegraph reaches as a fraction of
// it is what its own layers cost.
//
// It answers JSON, verifies the same HS256 bearer tokens, and keeps the same
// limits (pending cap and quota) with the same conditional update of the
// user's usage row, in the same transaction as the insert.
// Its save does not look at storage: only the three measured operations
// are held to Filegraph's rules; save only exists to seed it through its API.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/lib/pq"
)

func main() {
	var f floor
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	dsn := flag.String("db", "", "PostgreSQL URL of a database migrated by `filegraph migrate`")
	flag.StringVar(&f.bucket, "bucket", "", "S3 bucket")
	endpoint := flag.String("endpoint", "", "S3 endpoint (path style)")
	flag.StringVar(&f.region, "region", "us-east-1", "S3 region")
	access := flag.String("access", "", "S3 access key")
	secret := flag.String("secret", "", "S3 secret key")
	jwtSecret := flag.String("jwt-secret", "", "HS256 secret of bearer tokens")
	flag.Int64Var(&f.quota, "quota", 1<<50, "bytes per user, saved and pending")
	flag.Int64Var(&f.maxPending, "max-pending", 1000, "pending uploads per user")
	flag.Parse()

	db, err := sql.Open("postgres", *dsn)
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(20) // as Filegraph's pool
	db.SetMaxIdleConns(10)
	f.db = db
	f.endpoint, err = url.Parse(*endpoint)
	if err != nil {
		log.Fatal(err)
	}
	f.creds = aws.Credentials{AccessKeyID: *access, SecretAccessKey: *secret}
	f.signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	f.jwtKey = []byte(*jwtSecret)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /download", f.auth(f.download))
	mux.HandleFunc("GET /files", f.auth(f.list))
	mux.HandleFunc("POST /uploads", f.auth(f.createUpload))
	mux.HandleFunc("POST /save", f.auth(f.save))
	log.Fatal(http.ListenAndServe(*addr, mux))
}

type floor struct {
	db                *sql.DB
	bucket, region    string
	endpoint          *url.URL
	creds             aws.Credentials
	signer            *v4.Signer
	jwtKey            []byte
	quota, maxPending int64
}

// auth verifies the bearer token as Filegraph does (HS256, exp required).
func (f *floor) auth(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return f.jwtKey, nil }); err != nil || claims.Subject == "" {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		next(w, r, claims.Subject)
	}
}

type request struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

// presign signs a request for key with the SDK's v4 signer, the way the
// SDK's presigner would: unsigned payload, query-string signature.
func (f *floor) presign(ctx context.Context, method, key string, query url.Values, hdr http.Header, length int64, ttl time.Duration) (request, error) {
	u := *f.endpoint
	u.Path = "/" + f.bucket + "/" + key
	if query == nil {
		query = url.Values{}
	}
	query.Set("X-Amz-Expires", strconv.Itoa(int(ttl.Seconds())))
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return request{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.ContentLength = length // the signer signs content-length from here
	now := time.Now().UTC()
	signed, headers, err := f.signer.PresignHTTP(ctx, f.creds, req, "UNSIGNED-PAYLOAD", "s3", f.region, now)
	if err != nil {
		return request{}, err
	}
	out := request{Method: method, URL: signed, Headers: map[string]string{}, ExpiresAt: now.Truncate(time.Second).Add(ttl)}
	for k, v := range headers {
		if !strings.EqualFold(k, "Host") {
			out.Headers[k] = strings.Join(v, ",")
		}
	}
	return out, nil
}

func (f *floor) download(w http.ResponseWriter, r *http.Request, user string) {
	id, err := uuid.Parse(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var fl file
	err = f.db.QueryRowContext(r.Context(), `SELECT `+fileColumns+` FROM files
		WHERE id = $1 AND owner = $2 AND deleted_at IS NULL LIMIT 2`, id, user).Scan(fl.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	q := url.Values{}
	q.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fl.OriginalName}))
	q.Set("response-content-type", fl.ContentType)
	req, err := f.presign(r.Context(), http.MethodGet, fl.FileName, q, nil, 0, 15*time.Minute)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, req)
}

const fileColumns = "id, bucket, file_name, original_name, size, content_type, created_at, owner, deleted_at"

type file struct {
	ID           uuid.UUID  `json:"id"`
	Bucket       string     `json:"bucket"`
	FileName     string     `json:"fileName"`
	OriginalName string     `json:"originalName"`
	Size         int64      `json:"size"`
	ContentType  string     `json:"contentType"`
	CreatedAt    time.Time  `json:"createdAt"`
	Owner        string     `json:"-"`
	DeletedAt    *time.Time `json:"-"`
}

func (f *file) dest() []any {
	return []any{&f.ID, &f.Bucket, &f.FileName, &f.OriginalName, &f.Size, &f.ContentType, &f.CreatedAt, &f.Owner, &f.DeletedAt}
}

// list is files(first: 50) { totalCount, 7 fields }: the page, newest
// first, one row more to know whether there is a next page, and the count.
func (f *floor) list(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	var page struct {
		TotalCount  int64   `json:"totalCount"`
		HasNextPage bool    `json:"hasNextPage"`
		Files       []*file `json:"files"`
	}
	rows, err := f.db.QueryContext(ctx, `SELECT `+fileColumns+` FROM files
		WHERE owner = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 51`, user)
	if err != nil {
		fail(w, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		fl := new(file)
		if err := rows.Scan(fl.dest()...); err != nil {
			fail(w, err)
			return
		}
		page.Files = append(page.Files, fl)
	}
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	if len(page.Files) > 50 {
		page.Files, page.HasNextPage = page.Files[:50], true
	}
	if err := f.db.QueryRowContext(ctx, `SELECT saved_count FROM usages WHERE owner = $1`, user).Scan(&page.TotalCount); err != nil {
		fail(w, err)
		return
	}
	reply(w, page)
}

type uploadRequest struct {
	OriginalName string `json:"originalName"`
	Size         int64  `json:"size"`
	ContentType  string `json:"contentType"`
}

// createUpload is createUploadUrls for one file: presign, then check the
// user's limits and record the upload in one transaction.
func (f *floor) createUpload(w http.ResponseWriter, r *http.Request, user string) {
	var in uploadRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.OriginalName == "" || in.Size <= 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	}
	ctx := r.Context()
	var b [16]byte
	rand.Read(b[:])
	key := "files/" + hex.EncodeToString(b[:])
	ttl := 15 * time.Minute
	req, err := f.presign(ctx, http.MethodPut, key, nil, http.Header{
		"Content-Type":  {in.ContentType},
		"If-None-Match": {"*"},
	}, in.Size, ttl)
	if err != nil {
		fail(w, err)
		return
	}
	if err := f.record(ctx, user, key, in, req.ExpiresAt); err != nil {
		var refused limitError
		if errors.As(err, &refused) {
			http.Error(w, string(refused), http.StatusForbidden)
			return
		}
		fail(w, err)
		return
	}
	reply(w, map[string]any{"fileName": key, "originalName": in.OriginalName, "request": req})
}

type limitError string

func (e limitError) Error() string { return string(e) }

func (f *floor) record(ctx context.Context, user, key string, in uploadRequest, expires time.Time) (err error) {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `INSERT INTO uploads (id, file_name, original_name, size, content_type, checksum_sha256, expires_at, created_at, owner)
		VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8)`, uuid.Must(uuid.NewV7()), key, in.OriginalName, in.Size, in.ContentType, expires, time.Now(), user); err != nil {
		return err
	}
	// The user's usage row, updated only if the upload fits: one
	// statement, whose row lock lasts until the commit right after it.
	res, err := tx.ExecContext(ctx, `INSERT INTO usages (owner, pending_count, pending_bytes) VALUES ($1, 1, $2)
		ON CONFLICT (owner) DO UPDATE SET pending_count = usages.pending_count + 1, pending_bytes = usages.pending_bytes + excluded.pending_bytes
		WHERE usages.pending_count + 1 <= $3 AND usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= $4`,
		user, in.Size, f.maxPending, f.quota)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(limitError("MAX_PENDING_UPLOADS or USER_QUOTA_BYTES"), err)
	}
	return tx.Commit()
}

// save turns the caller's uploads into files (seeding only; see the
// package comment).
func (f *floor) save(w http.ResponseWriter, r *http.Request, user string) {
	var in struct {
		FileNames []string `json:"fileNames"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	rows, err := f.db.QueryContext(r.Context(), `WITH u AS (DELETE FROM uploads WHERE file_name = ANY($1) AND owner = $2 RETURNING *),
		f AS (INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at, owner)
			SELECT gen_random_uuid(), $3, file_name, original_name, size, content_type, now(), owner FROM u RETURNING id, size),
		_ AS (UPDATE usages SET pending_count = pending_count - (SELECT COUNT(*) FROM f), pending_bytes = pending_bytes - (SELECT SUM(size) FROM f),
			saved_count = saved_count + (SELECT COUNT(*) FROM f), saved_bytes = saved_bytes + (SELECT SUM(size) FROM f) WHERE owner = $2)
		SELECT id FROM f`,
		pq.Array(in.FileNames), user, f.bucket)
	if err != nil {
		fail(w, err)
		return
	}
	defer rows.Close()
	var out struct {
		IDs []string `json:"ids"`
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			fail(w, err)
			return
		}
		out.IDs = append(out.IDs, id)
	}
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	if len(out.IDs) != len(in.FileNames) {
		http.Error(w, "not issued", http.StatusBadRequest)
		return
	}
	reply(w, out)
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	log.Printf("floor: %v", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
