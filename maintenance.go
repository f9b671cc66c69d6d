package main

import (
	"context"
	"sync"
	"time"
)

// maintenanceInterval is how often expired idempotency records, recipient
// cache entries and connect requests are deleted.
const maintenanceInterval = time.Hour

// startMaintenance deletes expired rows once at start and then every
// maintenanceInterval, until ctx ends or stop is called. Every replica runs
// it; the deletes are idempotent. stop waits for the loop to end.
func (a *app) startMaintenance(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(maintenanceInterval)
		defer ticker.Stop()
		for {
			a.purgeExpired(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

func (a *app) purgeExpired(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sent, err := a.teams.PurgeExpired(ctx)
	if err != nil && ctx.Err() == nil {
		a.log.Error("purge of expired idempotency records failed", "error", err)
	}
	requests, err := a.store.DeleteExpiredConnectRequests(ctx, time.Now())
	if err != nil && ctx.Err() == nil {
		a.log.Error("purge of expired connect requests failed", "error", err)
	}
	if sent+requests > 0 {
		a.log.Info("expired rows deleted", "idempotency_and_cache_rows", sent, "connect_requests", requests)
	}
}
