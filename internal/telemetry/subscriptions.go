package telemetry

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// EventMetrics counts what the events hub does (events.Observer), and the
// webhook deliveries.
type EventMetrics struct {
	subscribers prometheus.Gauge
	dropped     prometheus.Counter
	sent        prometheus.Counter
	latency     prometheus.Histogram
}

var eventMetrics sync.Map // *Metrics → *EventMetrics

// Events returns the server's event metrics, registering them once.
func (m *Metrics) Events() *EventMetrics {
	if e, ok := eventMetrics.Load(m); ok {
		return e.(*EventMetrics)
	}
	f := factory{m.registry}
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "event_publish_latency_seconds",
		Help: "Time from an event's write to its reading by this process, for each subscriber it went to.", Buckets: buckets})
	m.registry.MustRegister(latency)
	e := &EventMetrics{
		subscribers: f.gauge("subscriptions", "Subscriptions open in this process."),
		dropped:     f.counter("subscriptions_dropped_total", "Subscriptions ended because their subscriber fell behind."),
		sent:        f.counter("subscription_events_total", "Events handed to subscribers."),
		latency:     latency,
	}
	actual, _ := eventMetrics.LoadOrStore(m, e)
	return actual.(*EventMetrics)
}

func (e *EventMetrics) Subscribers(n int) { e.subscribers.Set(float64(n)) }
func (e *EventMetrics) Dropped()          { e.dropped.Inc() }
func (e *EventMetrics) Delivered(d time.Duration) {
	e.sent.Inc()
	e.latency.Observe(d.Seconds())
}
