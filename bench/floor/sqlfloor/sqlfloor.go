// Package sqlfloor is what both floors of `make bench-load` run (bench/floor's
// plain net/http routes and its stock-gqlgen resolvers): the same
// owner-scoped SQL as Filegraph, as plain Go does it best, with each
// statement prepared once so that it costs one round trip, and the AWS
// SDK's v4 signer. The two floors differ only in what is in front of it.
package sqlfloor

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/uuid"
	"github.com/lib/pq"
	"golang.org/x/sync/errgroup"
)

// Config says where the floor's database and bucket are.
type Config struct {
	DSN                      string
	Bucket, Endpoint, Region string
	AccessKey, SecretKey     string
	Quota, MaxPending        int64
	MaxConns                 int
}

// Floor holds the pool, the prepared statements and the signer.
type Floor struct {
	db                                        *sql.DB
	lookup, page, count, create, save, remove *sql.Stmt
	bucket, region                            string
	endpoint                                  *url.URL
	creds                                     aws.Credentials
	signer                                    *v4.Signer
	quota, maxPending                         int64
}

// ErrNotFound is a file that is not the caller's, or not there.
var ErrNotFound = errors.New("not found")

// ErrLimit is an upload past the caller's pending cap or quota.
var ErrLimit = errors.New("MAX_PENDING_UPLOADS or USER_QUOTA_BYTES")

const fileColumns = "id, bucket, file_name, original_name, size, content_type, created_at"

// Open connects and prepares every statement.
func Open(cfg Config) (*Floor, error) {
	db, err := sql.Open("postgres", cfg.DSN)
	if err != nil {
		return nil, err
	}
	// At least as many connections as Filegraph's pool.
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	ep, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	f := &Floor{db: db, bucket: cfg.Bucket, region: cfg.Region, endpoint: ep,
		creds:  aws.Credentials{AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey},
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		quota:  cfg.Quota, maxPending: cfg.MaxPending}
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&f.lookup, `SELECT ` + fileColumns + ` FROM files WHERE id = $1 AND owner = $2 AND deleted_at IS NULL`},
		{&f.page, `SELECT ` + fileColumns + ` FROM files WHERE owner = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $2`},
		{&f.count, `SELECT saved_count FROM usages WHERE owner = $1`},
		// The user's usage row, changed only if the upload fits, and the
		// upload's row, in one statement: the row lock lasts only as long
		// as this statement and its commit.
		{&f.create, `WITH r AS (
			INSERT INTO usages (owner, pending_count, pending_bytes) VALUES ($1, 1, $2)
			ON CONFLICT (owner) DO UPDATE SET pending_count = usages.pending_count + 1, pending_bytes = usages.pending_bytes + excluded.pending_bytes
			WHERE usages.pending_count + 1 <= $3 AND usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= $4
			RETURNING owner)
			INSERT INTO uploads (id, file_name, original_name, size, content_type, checksum_sha256, expires_at, created_at, owner)
			SELECT $5, $6, $7, $2, $8, '', $9, $10, owner FROM r`},
		{&f.save, `WITH u AS (DELETE FROM uploads WHERE file_name = ANY($1) AND owner = $2 RETURNING *),
			f AS (INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at, owner)
				SELECT gen_random_uuid(), $3, file_name, original_name, size, content_type, now(), owner FROM u RETURNING ` + fileColumns + `),
			_ AS (UPDATE usages SET pending_count = pending_count - (SELECT COUNT(*) FROM f), pending_bytes = pending_bytes - (SELECT SUM(size) FROM f),
				saved_count = saved_count + (SELECT COUNT(*) FROM f), saved_bytes = saved_bytes + (SELECT SUM(size) FROM f) WHERE owner = $2)
			SELECT * FROM f`},
		{&f.remove, `WITH d AS (DELETE FROM files WHERE id = $1 AND owner = $2 AND deleted_at IS NULL RETURNING file_name, size),
			_ AS (UPDATE usages SET saved_count = saved_count - 1, saved_bytes = saved_bytes - (SELECT size FROM d) WHERE owner = $2 AND EXISTS (SELECT 1 FROM d))
			SELECT file_name FROM d`},
	} {
		if *s.stmt, err = db.Prepare(s.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("preparing %.40q: %w", s.sql, err)
		}
	}
	return f, nil
}

// File is one row of files, as the API shows it.
type File struct {
	ID           uuid.UUID `json:"id"`
	Bucket       string    `json:"bucket"`
	FileName     string    `json:"fileName"`
	OriginalName string    `json:"originalName"`
	Size         int64     `json:"size"`
	ContentType  string    `json:"contentType"`
	CreatedAt    time.Time `json:"createdAt"`
}

func (f *File) dest() []any {
	return []any{&f.ID, &f.Bucket, &f.FileName, &f.OriginalName, &f.Size, &f.ContentType, &f.CreatedAt}
}

// Request is a presigned request.
type Request struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

// presign signs a request for key with the SDK's v4 signer, the way the
// SDK's presigner would: unsigned payload, query-string signature.
func (f *Floor) presign(ctx context.Context, method, key string, query url.Values, hdr http.Header, length int64, ttl time.Duration) (Request, error) {
	u := *f.endpoint
	u.Path = "/" + f.bucket + "/" + key
	if query == nil {
		query = url.Values{}
	}
	query.Set("X-Amz-Expires", strconv.Itoa(int(ttl.Seconds())))
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return Request{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.ContentLength = length // the signer signs content-length from here
	now := time.Now().UTC()
	signed, headers, err := f.signer.PresignHTTP(ctx, f.creds, req, "UNSIGNED-PAYLOAD", "s3", f.region, now)
	if err != nil {
		return Request{}, err
	}
	out := Request{Method: method, URL: signed, Headers: map[string]string{}, ExpiresAt: now.Truncate(time.Second).Add(ttl)}
	for k, v := range headers {
		if !strings.EqualFold(k, "Host") {
			out.Headers[k] = strings.Join(v, ",")
		}
	}
	return out, nil
}

// Download is a signed GET of the caller's file id.
func (f *Floor) Download(ctx context.Context, user string, id uuid.UUID) (Request, error) {
	var fl File
	err := f.lookup.QueryRowContext(ctx, id, user).Scan(fl.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, ErrNotFound
	}
	if err != nil {
		return Request{}, err
	}
	q := url.Values{}
	q.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fl.OriginalName}))
	q.Set("response-content-type", fl.ContentType)
	return f.presign(ctx, http.MethodGet, fl.FileName, q, nil, 0, 15*time.Minute)
}

// Page is the caller's newest n files and whether there are more.
func (f *Floor) Page(ctx context.Context, user string, n int) ([]*File, bool, error) {
	rows, err := f.page.QueryContext(ctx, user, n+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	files := make([]*File, 0, n+1)
	for rows.Next() {
		fl := new(File)
		if err := rows.Scan(fl.dest()...); err != nil {
			return nil, false, err
		}
		files = append(files, fl)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(files) > n {
		return files[:n], true, nil
	}
	return files, false, nil
}

// Count is the caller's number of files, from the usage row.
func (f *Floor) Count(ctx context.Context, user string) (int64, error) {
	var n int64
	err := f.count.QueryRowContext(ctx, user).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Upload is what a client asks to upload.
type Upload struct {
	OriginalName string `json:"originalName"`
	Size         int64  `json:"size"`
	ContentType  string `json:"contentType"`
}

// Issued is an upload's key and signed PUT.
type Issued struct {
	FileName     string  `json:"fileName"`
	OriginalName string  `json:"originalName"`
	Request      Request `json:"request"`
}

// Create presigns a PUT for a new key, then records the upload if it fits
// the caller's limits.
func (f *Floor) Create(ctx context.Context, user string, in Upload) (Issued, error) {
	if in.OriginalName == "" || in.Size <= 0 {
		return Issued{}, errors.New("bad request")
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	}
	var b [16]byte
	rand.Read(b[:])
	key := "files/" + hex.EncodeToString(b[:])
	req, err := f.presign(ctx, http.MethodPut, key, nil, http.Header{
		"Content-Type":  {in.ContentType},
		"If-None-Match": {"*"},
	}, in.Size, 15*time.Minute)
	if err != nil {
		return Issued{}, err
	}
	res, err := f.create.ExecContext(ctx, user, in.Size, f.maxPending, f.quota,
		uuid.Must(uuid.NewV7()), key, in.OriginalName, in.ContentType, req.ExpiresAt, time.Now())
	if err != nil {
		return Issued{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return Issued{}, errors.Join(ErrLimit, err)
	}
	return Issued{FileName: key, OriginalName: in.OriginalName, Request: req}, nil
}

// Save checks that each upload is in storage (a HEAD each, 8 at once, as
// Filegraph stats them), then turns the caller's uploads into files in one
// statement.
func (f *Floor) Save(ctx context.Context, user string, fileNames []string) ([]*File, error) {
	var g errgroup.Group
	g.SetLimit(8)
	for _, key := range fileNames {
		g.Go(func() error { return f.object(ctx, http.MethodHead, key) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rows, err := f.save.QueryContext(ctx, pq.Array(fileNames), user, f.bucket)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*File
	for rows.Next() {
		fl := new(File)
		if err := rows.Scan(fl.dest()...); err != nil {
			return nil, err
		}
		out = append(out, fl)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) != len(fileNames) {
		return nil, ErrNotFound
	}
	return out, nil
}

// Delete removes the caller's file id: its row and usage in one
// statement, then its object.
func (f *Floor) Delete(ctx context.Context, user string, id uuid.UUID) error {
	var key string
	err := f.remove.QueryRowContext(ctx, id, user).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return f.object(ctx, http.MethodDelete, key)
}

// client calls the bucket; as many idle connections as callers.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// object sends a signed HEAD or DELETE of key and wants a 2xx.
func (f *Floor) object(ctx context.Context, method, key string) error {
	req, err := f.presign(ctx, method, key, nil, nil, 0, time.Minute)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, method, req.URL, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, key, res.Status)
	}
	return nil
}
