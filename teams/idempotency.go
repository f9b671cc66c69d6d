package teams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wintro/teams-messaging/oauth"
)

const (
	// firstPoll and maxPoll space the reads of a record that another
	// request holds pending: the wait doubles from firstPoll up to maxPoll.
	firstPoll = 20 * time.Millisecond
	maxPoll   = 250 * time.Millisecond
	// maxClaims bounds how often one request tries to take over a key whose
	// earlier sends failed while it waited.
	maxClaims = 3
)

// newClaim returns the claim of in's idempotency key by the recruiter.
func (s *Service) newClaim(recruiterID string, in SendInput) claim {
	return claim{
		RecruiterID: recruiterID, Key: in.IdempotencyKey, Hash: requestHash(recruiterID, in),
		AttemptID: uuid.NewString(), Input: in, ExpiredBefore: s.cfg.Now().Add(-s.cfg.IdempotencyTTL),
	}
}

// sendOnce sends in under its idempotency key, given the outcome of the
// first claim. The request that claims the key sends and records the
// outcome. Any other request returns the recorded outcome, and waits for it
// while the owner is still sending.
func (s *Service) sendOnce(ctx context.Context, a *oauth.Access, in SendInput, body string, c claim, first claimed) (*SendResult, error) {
	c.ConnectionID, c.TenantID = a.ConnectionID, a.TenantID
	k, owned := first.known(), first.owned()
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.ExpiredBefore = s.cfg.Now().Add(-s.cfg.IdempotencyTTL)
			var err error
			if k, owned, err = s.store.claimSend(ctx, c); err != nil {
				return nil, err
			}
		}
		if owned {
			return s.deliverOwned(ctx, a, in, body, k, c)
		}

		rec, err := s.awaitOutcome(ctx, a.RecruiterID, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		retake := rec == nil || rec.Status == sendFailed && rec.RequestHash == c.Hash
		switch {
		case retake && attempt < maxClaims:
			continue // never claimed, deleted meanwhile, or failed with nothing posted: claim again
		case retake:
			return nil, ErrSendInProgress
		}
		return replay(rec, c.Hash)
	}
}

// deliverOwned sends as the owner of c's key and records the outcome.
func (s *Service) deliverOwned(ctx context.Context, a *oauth.Access, in SendInput, body string, k known, c claim) (*SendResult, error) {
	res, err := s.deliver(ctx, a, in, body, k)
	s.recordOutcome(ctx, a.RecruiterID, c, res, err)
	return res, err
}

// recordOutcome records the outcome of the send that owns c's key, even
// when the send's deadline has passed.
func (s *Service) recordOutcome(ctx context.Context, recruiterID string, c claim, res *SendResult, err error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	// NOTE: when this write fails the record stays pending. Repeats of the
	// key wait, then report an unknown outcome once PendingTimeout has
	// passed; none of them sends again.
	s.reportError("record send outcome", s.store.finishSend(rctx, recruiterID, c.Key, c.AttemptID, recordOf(res, err)))
}

// awaitOutcome reads the record of key. While another request holds it
// pending, it reads again, for up to PendingWait of waiting in all, and then
// returns the pending record. A pending record not updated for
// PendingTimeout was abandoned by a stopped process: it is marked as an
// unknown outcome. It returns nil when the key has no record.
func (s *Service) awaitOutcome(ctx context.Context, recruiterID, key string) (*sentRecord, error) {
	var waited time.Duration
	poll := firstPoll
	for {
		rec, err := s.store.sentRecordOf(ctx, recruiterID, key)
		if err != nil || rec == nil || rec.Status != sendPending {
			return rec, err
		}

		if cutoff := s.cfg.Now().Add(-s.cfg.PendingTimeout); rec.UpdatedAt.Before(cutoff) {
			if err := s.store.markAbandoned(ctx, recruiterID, key, cutoff); err != nil {
				return nil, err
			}
			continue
		}
		if waited >= s.cfg.PendingWait || sleepContext(ctx, poll) != nil {
			return rec, nil
		}
		waited += poll
		poll = min(2*poll, maxPoll)
	}
}

// replay returns the recorded outcome of an idempotency key.
func replay(rec *sentRecord, hash string) (*SendResult, error) {
	if rec.RequestHash != hash {
		return nil, ErrIdempotencyKeyReused
	}
	switch rec.Status {
	case sendSent:
		return resultOf(rec), nil
	case sendUnknown:
		return nil, ErrOutcomeUnknown
	}
	return nil, ErrSendInProgress
}

// requestHash identifies what a key was first used for: the recipient as
// given, the format and the content. The recruiter and the key are hashed
// too, so equal messages hash differently under different keys and a table
// of hashes of common messages matches nothing. Every part is length
// prefixed, so no two inputs share an encoding.
func requestHash(recruiterID string, in SendInput) string {
	h := sha256.New()
	for _, part := range []string{recruiterID, in.IdempotencyKey, in.RecipientEmail, in.RecipientID, string(in.Format), in.Content} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sleepContext waits d, or less when ctx ends first, and then returns
// ctx's error.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
