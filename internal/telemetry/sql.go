package telemetry

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// SQL returns what opens a database pool whose driver makes a span of each
// statement, transaction begin and commit (otelsql), with the statement's
// text (placeholders, never the values). Only statements inside a trace
// make spans: the sweeper's and the migrations' would each be a trace of
// their own.
func SQL(tp trace.TracerProvider) func(driverName, dsn string) (*sql.DB, error) {
	return func(driverName, dsn string) (*sql.DB, error) {
		var system attribute.KeyValue
		switch driverName {
		case "postgres", "postgres+prepare": // lib/pq, or it preparing statements (DATABASE_PREPARE)
			system = semconv.DBSystemNamePostgreSQL
		case "sqlite", "sqlite3":
			system = semconv.DBSystemNameSQLite
		default:
			system = semconv.DBSystemNameKey.String(driverName)
		}
		return otelsql.Open(driverName, dsn,
			otelsql.WithTracerProvider(tp),
			otelsql.WithMeterProvider(noop.NewMeterProvider()), // Prometheus has the pool
			otelsql.WithAttributes(system),
			otelsql.WithSpanOptions(otelsql.SpanOptions{
				OmitConnResetSession: true,
				OmitConnPrepare:      true,
				OmitRows:             true,
				DisableErrSkip:       true,
				SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
					return trace.SpanContextFromContext(ctx).IsValid()
				},
			}),
		)
	}
}
