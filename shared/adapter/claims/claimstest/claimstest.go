// Package claimstest is the conformance suite every claims.Store runs.
package claimstest

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/claims"
)

// Run runs the suite; newStore returns an empty store whose clock is
// *now.
func Run(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, func(t *testing.T, now *time.Time) claims.Store)
	}{
		{"FirstClaimsOthersWait", testFirstClaimsOthersWait},
		{"DoneStaysDone", testDoneStaysDone},
		{"ExpiredClaimIsTakenOver", testExpiredClaimIsTakenOver},
		{"ReleaseAllowsARetry", testReleaseAllowsARetry},
		{"ExtendFollowsTheLiveClaimOnly", testExtendFollowsTheLiveClaimOnly},
		{"TakeOverFromTheHolderOnly", testTakeOverFromTheHolderOnly},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStore) })
	}
}

// expect fails t unless a call returned want.
func expect(t *testing.T, got claims.State, err error, want claims.State) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
}

func testFirstClaimsOthersWait(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	st, err := s.Claim(ctx, "r1", "exec-a", time.Hour)
	expect(t, st, err, claims.Claimed)
	st, err = s.Claim(ctx, "r1", "exec-b", time.Hour)
	expect(t, st, err, claims.InProgress)
	st, err = s.Claim(ctx, "r1", "exec-a", time.Hour) // a retried task of the owner
	expect(t, st, err, claims.Claimed)
	st, err = s.Claim(ctx, "r2", "exec-b", time.Hour)
	expect(t, st, err, claims.Claimed)
}

func testDoneStaysDone(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	st, err := s.Claim(ctx, "r", "a", time.Hour)
	expect(t, st, err, claims.Claimed)
	if err := s.Complete(ctx, "r", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	st, err = s.Claim(ctx, "r", "a", time.Hour)
	expect(t, st, err, claims.Done)
	now = now.Add(25 * time.Hour) // the completion expired
	st, err = s.Claim(ctx, "r", "b", time.Hour)
	expect(t, st, err, claims.Claimed)
}

func testExpiredClaimIsTakenOver(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	st, err := s.Claim(ctx, "r", "dead", time.Minute)
	expect(t, st, err, claims.Claimed)
	now = now.Add(2 * time.Minute)
	st, err = s.Claim(ctx, "r", "live", time.Minute)
	expect(t, st, err, claims.Claimed)
}

func testReleaseAllowsARetry(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	st, err := s.Claim(ctx, "r", "a", time.Hour)
	expect(t, st, err, claims.Claimed)
	if err := s.Release(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	st, err = s.Claim(ctx, "r", "b", time.Hour)
	expect(t, st, err, claims.Claimed)
}

func testExtendFollowsTheLiveClaimOnly(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	st, err := s.Claim(ctx, "r", "a", time.Minute)
	expect(t, st, err, claims.Claimed)
	now = now.Add(50 * time.Second)
	if err := s.Extend(ctx, "r", time.Minute); err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Second) // past the first expiry, within the extension
	st, err = s.Claim(ctx, "r", "b", time.Minute)
	expect(t, st, err, claims.InProgress)
	// A shorter extension does not pull the expiry in.
	if err := s.Extend(ctx, "r", time.Second); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Second)
	st, err = s.Claim(ctx, "r", "b", time.Minute)
	expect(t, st, err, claims.InProgress)
	// Once expired, an extension does not bring the claim back.
	now = now.Add(time.Minute)
	if err := s.Extend(ctx, "r", time.Hour); err != nil {
		t.Fatal(err)
	}
	st, err = s.Claim(ctx, "r", "b", time.Minute)
	expect(t, st, err, claims.Claimed)
	// A completed run stays completed.
	if err := s.Complete(ctx, "r", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Extend(ctx, "r", time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	st, err = s.Claim(ctx, "r", "c", time.Minute)
	expect(t, st, err, claims.Claimed)
	if err := s.Extend(ctx, "missing", time.Hour); err != nil {
		t.Fatal(err)
	}
}

func testTakeOverFromTheHolderOnly(t *testing.T, newStore func(t *testing.T, now *time.Time) claims.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, &now)
	if h, err := s.Holder(ctx, "r"); err != nil || h != "" {
		t.Fatalf("holder of nothing = %q, %v", h, err)
	}
	st, err := s.Claim(ctx, "r", "dead", time.Hour)
	expect(t, st, err, claims.Claimed)
	if h, err := s.Holder(ctx, "r"); err != nil || h != "dead" {
		t.Fatalf("holder = %q, %v", h, err)
	}
	if ok, err := s.TakeOver(ctx, "r", "someone-else", "live", time.Hour); err != nil || ok {
		t.Fatalf("took over from the wrong holder: %v %v", ok, err)
	}
	if ok, err := s.TakeOver(ctx, "r", "dead", "live", time.Hour); err != nil || !ok {
		t.Fatalf("take over = %v, %v", ok, err)
	}
	if h, _ := s.Holder(ctx, "r"); h != "live" {
		t.Fatalf("holder after the take-over = %q", h)
	}
	st, err = s.Claim(ctx, "r", "dead", time.Hour) // the dead one cannot come back
	expect(t, st, err, claims.InProgress)
	if err := s.Complete(ctx, "r", time.Hour); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Holder(ctx, "r"); h != "" {
		t.Fatalf("a done run has holder %q", h)
	}
	if ok, _ := s.TakeOver(ctx, "r", "live", "x", time.Hour); ok {
		t.Fatal("took over a done run")
	}
}
