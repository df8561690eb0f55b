package client

import (
	"context"
	"strconv"
	"time"
)

// ObservabilityService is a database's live figures.
type ObservabilityService service

// Observability is the answer of GET .../observability (API.md).
type Observability struct {
	Summary struct {
		WindowSeconds     int     `json:"window_seconds"`
		QPS               float64 `json:"qps"`
		TPS               float64 `json:"tps"`
		LatencyAvgMS      float64 `json:"latency_avg_ms"`
		LatencyP99MS      float64 `json:"latency_p99_ms"`
		ActiveConnections int     `json:"active_connections"`
		StatementCount    int64   `json:"statement_count"`
		TxnCommitCount    int64   `json:"txn_commit_count"`
		ErrorCount        int64   `json:"error_count"`
		DBStorageBytes    int64   `json:"db_storage_bytes"`
		FSLogicalBytes    int64   `json:"fs_logical_bytes"`
	} `json:"summary"`
	Samples []struct {
		TS                time.Time `json:"ts"`
		QPS               float64   `json:"qps"`
		TPS               float64   `json:"tps"`
		LatencyAvgMS      float64   `json:"latency_avg_ms"`
		LatencyP99MS      float64   `json:"latency_p99_ms"`
		ActiveConnections int       `json:"active_connections"`
		ErrorCount        int64     `json:"error_count"`
	} `json:"samples"`
	TopQueries []TopQuery `json:"top_queries"`
}

// TopQuery is one normalized statement of Observability.TopQueries.
type TopQuery struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	Rows    int64   `json:"rows"`
}

// Get returns db's figures over the last window seconds.
func (s *ObservabilityService) Get(ctx context.Context, db string, window int) (Observability, error) {
	var o Observability
	err := s.client.call(ctx, "GET", dbPath(db, "observability")+"?window="+strconv.Itoa(window), true, nil, &o)
	return o, err
}
