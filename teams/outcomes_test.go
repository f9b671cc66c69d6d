package teams

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
)

// TestOutcomeWriterBatches queues more outcomes than one batch holds while
// a statement is in flight, then checks that every row holds exactly its own
// outcome, with awkward text and NULLs intact, and that a stale attempt
// changes nothing.
func TestOutcomeWriterBatches(t *testing.T) {
	d := dbtest.Postgres(t)
	ctx := context.Background()
	const n = maxOutcomeBatch + 44
	created := time.Date(2026, 12, 4, 22, 0, 0, 123456000, time.UTC)
	for i := range n {
		if _, err := d.ExecContext(ctx, `INSERT INTO sent_messages (recruiter_id, idempotency_key, request_hash, status, attempt_id)
			VALUES ($1, $2, 'h', 'pending', $3)`, "r1", fmt.Sprint("k", i), fmt.Sprint("a", i)); err != nil {
			t.Fatalf("insert pending record %d: %v", i, err)
		}
	}
	want := func(i int) sentRecord {
		rec := sentRecord{Status: sendSent, RecipientID: fmt.Sprint("u", i), RecipientName: fmt.Sprintf(`O"Brien, {Jr} \%d`, i),
			RecipientEmail: "a@b.test", RecipientUPN: "NULL", ChatID: "19:x", MessageID: fmt.Sprint("m", i),
			MessageCreatedAt: sql.NullTime{Time: created, Valid: true}, WebURL: sql.NullString{String: "https://teams.test/l?a=1,2", Valid: true}}
		if i%3 == 0 {
			rec = sentRecord{Status: sendFailed}
		}
		return rec
	}

	w := &outcomeWriter{db: d}
	w.writing = true // as if a statement were running: the writes below queue
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = w.write(ctx, &outcome{recruiterID: "r1", key: fmt.Sprint("k", i), attemptID: fmt.Sprint("a", i), rec: want(i), updatedAt: created})
		})
	}
	for queued := 0; queued < n; {
		time.Sleep(time.Millisecond)
		w.mu.Lock()
		queued = len(w.queue)
		w.mu.Unlock()
	}
	go w.drain()
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d = %v", i, err)
		}
	}
	// An attempt that lost its key meanwhile changes nothing.
	if err := w.write(ctx, &outcome{recruiterID: "r1", key: "k1", attemptID: "stale", rec: sentRecord{Status: sendUnknown}, updatedAt: created}); err != nil {
		t.Errorf("write of a stale attempt = %v", err)
	}
	for i := range n {
		got, exp := readRecord(t, d, fmt.Sprint("k", i)), want(i)
		if got.Status != exp.Status || got.RecipientID != exp.RecipientID || got.RecipientName != exp.RecipientName ||
			got.RecipientUPN != exp.RecipientUPN || got.MessageID != exp.MessageID || got.WebURL != exp.WebURL ||
			got.MessageCreatedAt.Valid != exp.MessageCreatedAt.Valid || !got.MessageCreatedAt.Time.Equal(exp.MessageCreatedAt.Time) {
			t.Errorf("record k%d = %+v, want %+v", i, got, exp)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		writing, queued := w.writing, len(w.queue)
		w.mu.Unlock()
		if !writing && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer after draining: writing %v, %d queued; want idle and empty", writing, queued)
		}
	}
}

// TestOutcomeWriterContextEnds shows a waiter that gives up gets its
// context's error, and its outcome is written anyway.
func TestOutcomeWriterContextEnds(t *testing.T) {
	d := dbtest.Postgres(t)
	if _, err := d.Exec(`INSERT INTO sent_messages (recruiter_id, idempotency_key, request_hash, status, attempt_id)
		VALUES ('r1', 'k', 'h', 'pending', 'a')`); err != nil {
		t.Fatalf("insert pending record: %v", err)
	}
	w := &outcomeWriter{db: d}
	w.writing = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.write(ctx, &outcome{recruiterID: "r1", key: "k", attemptID: "a", rec: sentRecord{Status: sendUnknown}, updatedAt: time.Now()}); err == nil {
		t.Fatal("write with an ended context = nil, want its error")
	}
	w.drain()
	if got := readRecord(t, d, "k").Status; got != sendUnknown {
		t.Errorf("status after the waiter left = %q, want %q", got, sendUnknown)
	}
}

func readRecord(t *testing.T, d *db.DB, key string) sentRecord {
	t.Helper()
	var rec sentRecord
	err := d.Get(&rec, `SELECT request_hash, status, attempt_id, recipient_id, recipient_display_name, recipient_email,
		recipient_upn, chat_id, message_id, message_created_at, web_url, updated_at
		FROM sent_messages WHERE recruiter_id = 'r1' AND idempotency_key = $1`, key)
	if err != nil {
		t.Fatalf("read record %s: %v", key, err)
	}
	return rec
}
