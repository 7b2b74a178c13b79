package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics counts webhook tries and deliveries (webhooks.Observer),
// by receiver (a URL's scheme and host: WEBHOOK_URL's few).
type WebhookMetrics struct {
	tries     *prometheus.CounterVec   // receiver, outcome
	tryTime   *prometheus.HistogramVec // receiver
	delivered *prometheus.CounterVec   // receiver
	failed    *prometheus.CounterVec   // receiver
	latency   *prometheus.HistogramVec // receiver
}

// webhookLatency spans a delivery at its first try (milliseconds) to one
// that took a day of retries.
var webhookLatency = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600}

// Webhooks registers the webhook series, for receivers; queue reads the
// deliveries table for the pending series at each scrape (every replica
// shows the same queue).
func (m *Metrics) Webhooks(receivers []string, queue func(context.Context) (pending int, oldest time.Time, err error)) *WebhookMetrics {
	f := factory{m.registry}
	w := &WebhookMetrics{
		tries: f.counterVec("webhook_attempts_total",
			"Webhook POSTs made by this process, by receiver and outcome (ok, http_3xx, http_4xx, http_5xx, timeout, refused, error).", "receiver", "outcome"),
		tryTime: f.histogramVec("webhook_attempt_duration_seconds",
			"Time a receiver took to answer a webhook POST, by receiver.", "receiver"),
		delivered: f.counterVec("webhook_deliveries_delivered_total",
			"Webhook deliveries a receiver answered 2xx, sent by this process.", "receiver"),
		failed: f.counterVec("webhook_deliveries_failed_total",
			"Webhook deliveries given up after WEBHOOK_RETRY_FOR by this process.", "receiver"),
	}
	w.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "webhook_delivery_latency_seconds",
		Help: "Time from an event's commit to its receiver's 2xx, retries included, by receiver.", Buckets: webhookLatency}, []string{"receiver"})
	m.registry.MustRegister(w.latency, queueCollector{queue})
	for _, r := range receivers {
		w.delivered.WithLabelValues(r)
		w.failed.WithLabelValues(r)
	}
	return w
}

func (w *WebhookMetrics) Tried(receiver, outcome string, took time.Duration) {
	w.tries.WithLabelValues(receiver, outcome).Inc()
	w.tryTime.WithLabelValues(receiver).Observe(took.Seconds())
}

func (w *WebhookMetrics) Delivered(receiver string, latency time.Duration) {
	w.delivered.WithLabelValues(receiver).Inc()
	w.latency.WithLabelValues(receiver).Observe(latency.Seconds())
}

func (w *WebhookMetrics) Failed(receiver string) { w.failed.WithLabelValues(receiver).Inc() }

var (
	pendingDesc = prometheus.NewDesc(namespace+"_webhook_deliveries_pending",
		"Webhook deliveries not yet delivered nor given up, in the database (every replica reports the same).", nil, nil)
	oldestDesc = prometheus.NewDesc(namespace+"_webhook_oldest_pending_age_seconds",
		"Age of the oldest pending webhook delivery; 0 when none is pending.", nil, nil)
)

// queueCollector reads the queue when scraped. A database that does not
// answer within 2 seconds leaves the two series out of that scrape rather
// than holding it.
type queueCollector struct {
	queue func(context.Context) (int, time.Time, error)
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := c.queue(ctx)
	if err != nil {
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
