package posthog

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label values are route names and status codes only: never an id, an
// organization or anything derived from the API key.
const (
	labelMethod   = "method"
	labelEndpoint = "endpoint"
	labelCode     = "code"

	// codeTransportError is the code label of a request that got no response.
	codeTransportError = "error"
)

var (
	apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthog_operator_api_requests_total",
		Help: "HTTP requests sent to the PostHog API, by route and status code (\"error\" when no response came).",
	}, []string{labelMethod, labelEndpoint, labelCode})

	apiRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "posthog_operator_api_request_duration_seconds",
		Help:    "Duration of HTTP requests to the PostHog API, including reading the response body.",
		Buckets: prometheus.DefBuckets,
	}, []string{labelMethod, labelEndpoint})

	apiThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthog_operator_api_throttled_total",
		Help: "429 responses received from the PostHog API.",
	}, []string{labelEndpoint})

	rateLimiterWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "posthog_operator_api_rate_limiter_wait_seconds",
		Help:    "Time requests spent waiting in the client-side per-key rate limiter.",
		Buckets: []float64{0, 0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900},
	})
)

func init() {
	metrics.Registry.MustRegister(apiRequests, apiRequestDuration, apiThrottled, rateLimiterWait)
}

// observeRequest records one HTTP request; status 0 means no response.
func observeRequest(rt route, status int, took time.Duration) {
	code := codeTransportError
	if status != 0 {
		code = strconv.Itoa(status)
	}
	apiRequests.WithLabelValues(rt.method, rt.name, code).Inc()
	apiRequestDuration.WithLabelValues(rt.method, rt.name).Observe(took.Seconds())
}

func observeThrottled(rt route) {
	apiThrottled.WithLabelValues(rt.name).Inc()
}

func observeLimiterWait(waited time.Duration) {
	rateLimiterWait.Observe(max(waited, 0).Seconds())
}
