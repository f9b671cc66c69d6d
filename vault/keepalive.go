package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/wintro/teams-messaging/db"
)

// ClaimIdle claims up to limit CONNECTED connections whose refresh token was
// last used before idleSince and that no replica has claimed. It marks them
// claimed for claimFor and returns their ids in no particular order, taking
// the longest idle first. The claim is one statement (on PostgreSQL with
// FOR UPDATE SKIP LOCKED), so concurrent claimers, in this process or in
// other replicas, get disjoint sets. A claim ends when it times out, or when
// Refresh stores new tokens or expires the connection.
func (s *Store) ClaimIdle(ctx context.Context, idleSince time.Time, claimFor time.Duration, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.clock()
	lock := ""
	if s.db.Dialect == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}

	var ids []string
	query := s.q(`UPDATE connections SET keepalive_claimed_until = ?
		WHERE id IN (SELECT id FROM connections
			WHERE status = ? AND refresh_token IS NOT NULL AND refresh_token_used_at < ?
			AND (keepalive_claimed_until IS NULL OR keepalive_claimed_until < ?)
			ORDER BY refresh_token_used_at LIMIT ?` + lock + `)
		RETURNING id`)
	err := s.write(ctx, func() error {
		return s.db.SelectContext(ctx, &ids, query, now.Add(claimFor), StatusConnected, idleSince.UTC(), now, limit)
	})
	if err != nil {
		return nil, fmt.Errorf("claim idle connections: %w", err)
	}
	return ids, nil
}
