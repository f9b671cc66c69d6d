package teams

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/wintro/teams-messaging/db"
)

// maxOutcomeBatch bounds the outcomes one batched statement writes.
const maxOutcomeBatch = 256

// finishBatchSQL is finishSQL for many outcomes at once: unnest turns the
// parallel arrays into rows. Times travel as text in RFC 3339 form.
const finishBatchSQL = `UPDATE sent_messages AS s SET status = v.status, recipient_id = v.recipient_id,
		recipient_display_name = v.recipient_display_name, recipient_email = v.recipient_email,
		recipient_upn = v.recipient_upn, chat_id = v.chat_id, message_id = v.message_id,
		message_created_at = v.message_created_at, web_url = v.web_url, updated_at = v.updated_at
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[])
		AS v(recruiter_id, idempotency_key, attempt_id, status, recipient_id, recipient_display_name,
			recipient_email, recipient_upn, chat_id, message_id, message_created_at, web_url, updated_at)
	WHERE s.recruiter_id = v.recruiter_id AND s.idempotency_key = v.idempotency_key AND s.attempt_id = v.attempt_id`

// outcome is one send outcome waiting to be written.
type outcome struct {
	recruiterID, key, attemptID string
	rec                         sentRecord
	updatedAt                   time.Time
	done                        chan error // receives the write's result once
}

// outcomeWriter writes the outcomes of idempotent sends to PostgreSQL in
// batches, as a database does with group commit. A send queues its outcome
// and waits for the statement that writes it. While one statement runs, the
// outcomes that arrive queue up and go in the next one. Under light load
// every batch holds one outcome and adds no wait. Under heavy load one
// statement and one round trip serve many sends. It is safe for concurrent
// use.
type outcomeWriter struct {
	db *db.DB

	mu      sync.Mutex
	queue   []*outcome
	writing bool // a goroutine is draining the queue
}

// write queues o and waits until the statement that carries it has run, or
// until ctx ends. When ctx ends first, the outcome may still be written.
func (w *outcomeWriter) write(ctx context.Context, o *outcome) error {
	o.done = make(chan error, 1)
	w.mu.Lock()
	w.queue = append(w.queue, o)
	if !w.writing {
		w.writing = true
		go w.drain()
	}
	w.mu.Unlock()

	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("record send outcome: %w", ctx.Err())
	}
}

// drain writes batches until the queue is empty. It runs in a goroutine of
// its own, so no request waits for batches other than its own.
func (w *outcomeWriter) drain() {
	for {
		w.mu.Lock()
		n := min(len(w.queue), maxOutcomeBatch)
		if n == 0 {
			w.writing = false
			w.mu.Unlock()
			return
		}
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		if len(w.queue) == 0 {
			w.queue = nil // lets the backing array go
		}
		w.mu.Unlock()

		err := w.flush(batch)
		for _, o := range batch {
			o.done <- err
		}
	}
}

// flush writes batch in one statement: finishSQL, prepared, for a single
// outcome, else finishBatchSQL. Its deadline is its own, because the
// requests that wait for it may give up at different times.
func (w *outcomeWriter) flush(batch []*outcome) error {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if len(batch) == 1 {
		o := batch[0]
		return finishOne(ctx, w.db, o.recruiterID, o.key, o.attemptID, o.rec, o.updatedAt)
	}

	cols := make([][]sql.NullString, 13)
	for i := range cols {
		cols[i] = make([]sql.NullString, len(batch))
	}
	for i, o := range batch {
		r := o.rec
		created := sql.NullString{}
		if r.MessageCreatedAt.Valid {
			created = sql.NullString{String: r.MessageCreatedAt.Time.UTC().Format(time.RFC3339Nano), Valid: true}
		}
		row := []sql.NullString{
			text(o.recruiterID), text(o.key), text(o.attemptID), text(r.Status), text(r.RecipientID),
			text(r.RecipientName), text(r.RecipientEmail), text(r.RecipientUPN), text(r.ChatID), text(r.MessageID),
			created, r.WebURL, text(o.updatedAt.UTC().Format(time.RFC3339Nano)),
		}
		for c, v := range row {
			cols[c][i] = v
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = pq.Array(c)
	}

	// Not prepared: PostgreSQL plans an unnamed statement with the actual
	// arrays, so the join uses the primary key however the table grew. A
	// plan cached while the table was small scans it whole.
	if _, err := w.db.ExecContext(ctx, finishBatchSQL, args...); err != nil {
		return fmt.Errorf("record %d send outcomes: %w", len(batch), err)
	}
	return nil
}

// text is s as a non-NULL SQL string.
func text(s string) sql.NullString {
	return sql.NullString{String: s, Valid: true}
}
