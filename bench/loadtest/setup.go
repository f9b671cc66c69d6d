package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/wintro/teams-messaging/msemulator"
)

// setupWorkers bounds the concurrency of the setup phase.
const setupWorkers = 16

// colleague is a directory user that recruiters message.
type colleague struct {
	id, upn string
}

// knownChat is a colleague the recruiter messaged during setup, and their chat.
type knownChat struct {
	colleague colleague
	chatID    string
}

// recruiter is a Wintro user connected to a Microsoft account in the emulator.
type recruiter struct {
	id, upn   string
	accountID string
	token     string // caller JWT
	known     []knownChat
	fresh     []colleague  // colleagues never messaged, used by send_new
	nextFresh atomic.Int64 // index of the next unused colleague in fresh
	access    string       // the account's access token, for direct Graph calls
}

// population is everything setup created.
type population struct {
	recruiters []*recruiter
	colleagues []colleague
}

// setup adds the colleagues and recruiters to the emulator's demo tenant,
// connects every recruiter and sends each of them one message to each known colleague.
func setup(ctx context.Context, c *client, cfg *Config, runID string) (*population, error) {
	p := &population{}
	for i := range cfg.Colleagues {
		upn := fmt.Sprintf("bench-c%05d-%s@%s", i, runID, msemulator.DemoTenantDomain)
		id, err := addUser(ctx, c, upn, fmt.Sprintf("Colleague %05d", i))
		if err != nil {
			return nil, err
		}
		p.colleagues = append(p.colleagues, colleague{id: id, upn: upn})
	}
	for i := range cfg.Recruiters {
		p.recruiters = append(p.recruiters, &recruiter{
			id:  fmt.Sprintf("bench-recruiter-%05d-%s", i, runID),
			upn: fmt.Sprintf("bench-r%05d-%s@%s", i, runID, msemulator.DemoTenantDomain),
		})
	}
	err := forEach(ctx, p.recruiters, func(ctx context.Context, i int, r *recruiter) error {
		return prepareRecruiter(ctx, c, cfg, r, p.colleagues, i)
	})
	if err != nil {
		return nil, err
	}
	return p, attachAccessTokens(ctx, c, p.recruiters)
}

// prepareRecruiter adds, connects and warms one recruiter. Its colleagues
// are the directory rotated by its index, so recruiters share few chats.
func prepareRecruiter(ctx context.Context, c *client, cfg *Config, r *recruiter, all []colleague, index int) error {
	var err error
	if r.accountID, err = addUser(ctx, c, r.upn, "Recruiter "+r.id); err != nil {
		return err
	}
	if r.token, err = c.token(r.id, r.upn); err != nil {
		return fmt.Errorf("sign caller token: %w", err)
	}
	if err := c.connect(ctx, r.token, r.upn); err != nil {
		return fmt.Errorf("connect %s: %w", r.upn, err)
	}

	for k := range all {
		col := all[(index*cfg.Known+k)%len(all)]
		if k >= cfg.Known {
			r.fresh = append(r.fresh, col)
			continue
		}
		res, err := send(ctx, c, r, col, true, "", "hello from setup")
		if err != nil {
			return fmt.Errorf("first message from %s to %s: %w", r.upn, col.upn, err)
		}
		r.known = append(r.known, knownChat{colleague: col, chatID: res.chatID})
	}
	return nil
}

func addUser(ctx context.Context, c *client, upn, name string) (string, error) {
	var out struct{ ID string }
	in := map[string]any{"tenantId": msemulator.DemoTenantID, "userPrincipalName": upn, "mail": upn, "displayName": name}
	if err := c.emulatorJSON(ctx, http.MethodPost, "/_admin/users", "", in, &out); err != nil {
		return "", fmt.Errorf("add emulator user %s: %w", upn, err)
	}
	return out.ID, nil
}

// attachAccessTokens gives each recruiter the newest access token the
// emulator issued to its account, for the direct operation.
func attachAccessTokens(ctx context.Context, c *client, rs []*recruiter) error {
	var issued []struct {
		Kind, Token, UserID string
	}
	if err := c.emulatorJSON(ctx, http.MethodGet, "/_admin/tokens", "", nil, &issued); err != nil {
		return fmt.Errorf("read issued tokens: %w", err)
	}
	latest := map[string]string{}
	for _, it := range issued {
		if it.Kind == "access" {
			latest[it.UserID] = it.Token
		}
	}
	for _, r := range rs {
		r.access = latest[r.accountID]
	}
	return nil
}

// forEach runs fn for every recruiter on setupWorkers goroutines and
// returns the first error.
func forEach(ctx context.Context, rs []*recruiter, fn func(ctx context.Context, i int, r *recruiter) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     atomic.Int64
	)
	for range min(setupWorkers, len(rs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(rs) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(ctx, i, rs[i]); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
