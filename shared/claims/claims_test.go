package claims_test

import (
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/claims"
	"github.com/sluice-etl/sluice/shared/claims/claimstest"
)

func TestMemConformance(t *testing.T) {
	claimstest.Run(t, func(t *testing.T, now *time.Time) claims.Store {
		return &claims.Mem{Now: func() time.Time { return *now }}
	})
}
